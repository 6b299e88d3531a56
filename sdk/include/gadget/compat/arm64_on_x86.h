/*
 * Building for arm64 against a vmlinux.h generated on x86_64.
 *
 * The builder makes one vmlinux.h from the build host's BTF and compiles the
 * gadget once per target arch. libbpf's bpf_tracing.h reads arm64 registers
 * through `struct user_pt_regs`, which x86 BTF does not have. The builder
 * force-includes this file (clang -include, so it comes before vmlinux.h and
 * can only use plain C types) when the target is arm64 and vmlinux.h is x86.
 *
 * Layout is the arm64 uapi one (asm/ptrace.h); preserve_access_index makes
 * every access a CO-RE relocation resolved against the arm64 kernel's own
 * `struct user_pt_regs` at load time, so the offsets here are only defaults.
 */
#ifndef GADGET_COMPAT_ARM64_ON_X86_H
#define GADGET_COMPAT_ARM64_ON_X86_H

#if !defined(__TARGET_ARCH_arm64)
#error "gadget/compat/arm64_on_x86.h is only meant for -D__TARGET_ARCH_arm64 builds"
#endif

struct user_pt_regs {
	unsigned long long regs[31];
	unsigned long long sp;
	unsigned long long pc;
	unsigned long long pstate;
} __attribute__((preserve_access_index));

#endif /* GADGET_COMPAT_ARM64_ON_X86_H */
