/*
 * Private to the SDK headers: choose the source of kernel types.
 *
 * A gadget is written either against vmlinux.h (CO-RE, the usual case) or
 * against the UAPI headers (<linux/types.h>, <linux/bpf.h>, ...), as
 * networking gadgets often are. The two cannot be mixed, so the SDK headers
 * never force one on a gadget that already chose:
 *
 *   - if vmlinux.h (__VMLINUX_H__) or <linux/types.h> (_LINUX_TYPES_H) was
 *     included before, nothing more is included;
 *   - otherwise vmlinux.h is included, so that every header also compiles
 *     on its own.
 *
 * `bool` comes from vmlinux.h or, in UAPI mode, from <stdbool.h>.
 *
 * Headers that read kernel structures (task_struct, sock, dentry, ...) only
 * work in vmlinux mode; they say so with #error in UAPI mode, and the
 * headers usable in both modes leave out the parts that need vmlinux.h
 * (tested with `#ifdef __VMLINUX_H__`).
 */
#ifndef GADGET___BASE_H
#define GADGET___BASE_H

#if !defined(__VMLINUX_H__) && !defined(_LINUX_TYPES_H)
#include <vmlinux.h>
#endif

#if !defined(__VMLINUX_H__)
#include <stdbool.h>
#endif

#endif /* GADGET___BASE_H */
