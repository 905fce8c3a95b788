#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Is /dev/kvm usable? Exit 0 if so, else 1 with the reason on stdout.

What vng checks (can /dev/kvm be opened) is not enough: some sandboxes give a
/dev/kvm that opens. So, as far as the kernel interface goes: open it, check
the API version, KVM_CREATE_VM, map one page holding HLT at the reset vector,
KVM_CREATE_VCPU, KVM_RUN, and expect KVM_EXIT_HLT. (qemu/run.sh then also
asks QEMU itself to bring up a KVM vCPU: a /dev/kvm that passes this can
still refuse QEMU's MSRs.)
"""
import ctypes
import fcntl
import mmap
import os
import signal
import struct
import sys

KVM_GET_API_VERSION = 0xAE00  # _IO(KVMIO, 0x00)
KVM_CREATE_VM = 0xAE01  # _IO(KVMIO, 0x01)
KVM_GET_VCPU_MMAP_SIZE = 0xAE04  # _IO(KVMIO, 0x04)
KVM_CREATE_VCPU = 0xAE41  # _IO(KVMIO, 0x41)
KVM_SET_USER_MEMORY_REGION = 0x4020AE46  # _IOW(KVMIO, 0x46, 32 bytes)
KVM_RUN = 0xAE80  # _IO(KVMIO, 0x80)
KVM_EXIT_HLT = 5


def probe():
    step = "open /dev/kvm"
    try:
        fd = os.open("/dev/kvm", os.O_RDWR | os.O_CLOEXEC)
        step = "KVM_GET_API_VERSION"
        api = fcntl.ioctl(fd, KVM_GET_API_VERSION)
        if api != 12:
            return f"KVM API version {api}, not 12"
        step = "KVM_CREATE_VM"
        vm = fcntl.ioctl(fd, KVM_CREATE_VM, 0)
        step = "KVM_SET_USER_MEMORY_REGION"
        mem = mmap.mmap(-1, 4096)
        mem[0xFF0:0xFF2] = b"\xf4\xf4"  # hlt at 0xfffffff0 (CS base + IP at reset)
        addr = ctypes.addressof(ctypes.c_char.from_buffer(mem))
        fcntl.ioctl(vm, KVM_SET_USER_MEMORY_REGION,
                    struct.pack("IIQQQ", 0, 0, 0xFFFFF000, 4096, addr))
        step = "KVM_CREATE_VCPU"
        vcpu = fcntl.ioctl(vm, KVM_CREATE_VCPU, 0)
        size = fcntl.ioctl(fd, KVM_GET_VCPU_MMAP_SIZE)
        run = mmap.mmap(vcpu, size)
        step = "KVM_RUN"
        fcntl.ioctl(vcpu, KVM_RUN)
        reason = struct.unpack_from("I", run, 8)[0]
        if reason != KVM_EXIT_HLT:
            return f"KVM_RUN exit reason {reason}, expected {KVM_EXIT_HLT} (HLT)"
    except OSError as e:
        return f"{step}: {e.strerror or e}"
    return None


def main():
    signal.alarm(10)  # a KVM_RUN that never exits is unusable too
    why = probe()
    if why:
        print(why)
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
