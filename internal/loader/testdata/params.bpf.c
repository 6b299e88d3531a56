// SPDX-License-Identifier: Apache-2.0
//
// Test gadget for package loader: one param of every type, echoed into
// every event so the test can check what the kernel saw in .rodata.
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define MARKER(name) const void *name __attribute__((unused))

const volatile _Bool p_bool = 0;
const volatile __s8 p_i8 = 0;
const volatile __s16 p_i16 = 0;
const volatile __s32 p_i32 = 0;
const volatile __s64 p_i64 = 0;
const volatile __u8 p_u8 = 0;
const volatile __u16 p_u16 = 0;
const volatile __u32 p_u32 = 0;
const volatile __u64 p_u64 = 0;
const volatile float p_f32 = 0;
const volatile double p_f64 = 0;
const volatile char p_str[16] = "default";
const volatile __u32 p_pid = 0;
MARKER(gadget_param_p_bool);
MARKER(gadget_param_p_i8);
MARKER(gadget_param_p_i16);
MARKER(gadget_param_p_i32);
MARKER(gadget_param_p_i64);
MARKER(gadget_param_p_u8);
MARKER(gadget_param_p_u16);
MARKER(gadget_param_p_u32);
MARKER(gadget_param_p_u64);
MARKER(gadget_param_p_f32);
MARKER(gadget_param_p_f64);
MARKER(gadget_param_p_str);
MARKER(gadget_param_p_pid);

struct event {
	_Bool b;
	__s8 i8;
	__s16 i16;
	__s32 i32;
	__s64 i64;
	__u8 u8;
	__u16 u16;
	__u32 u32;
	__u64 u64;
	float f32;
	double f64;
	char str[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096 * 4);
} events SEC(".maps");

MARKER(gadget_tracer_echo___events___event);
const struct event *__unused_echo __attribute__((unused));

SEC("tracepoint/syscalls/sys_enter_getppid")
int ig_pm_echo(void *ctx)
{
	struct event *e;

	if ((bpf_get_current_pid_tgid() >> 32) != p_pid)
		return 0;
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		return 0;
	e->b = p_bool;
	e->i8 = p_i8;
	e->i16 = p_i16;
	e->i32 = p_i32;
	e->i64 = p_i64;
	e->u8 = p_u8;
	e->u16 = p_u16;
	e->u32 = p_u32;
	e->u64 = p_u64;
	e->f32 = p_f32;
	e->f64 = p_f64;
	/* Read through the volatile qualifier: a memcpy from a cast would let
	 * the compiler use the initializer instead of .rodata. */
	for (int i = 0; i < sizeof(e->str); i++)
		e->str[i] = p_str[i];
	bpf_ringbuf_submit(e, 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
