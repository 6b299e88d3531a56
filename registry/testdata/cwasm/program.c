// A freestanding C guest: no libc, no WASI. It speaks gadget API version 1,
// imports one host function from module "ig" and logs a message from
// gadgetInit.
#include <stddef.h>
#include <stdint.h>

#define IMPORT(name) __attribute__((import_module("ig"), import_name(#name)))
#define EXPORT(name) __attribute__((export_name(#name)))

// gadgetLog takes the message as (length << 32) | address.
IMPORT(gadgetLog) void gadgetLog(uint32_t level, uint64_t msg);

static const char greeting[] = "hello from " __FILE__;

static char buf[64];

// The length is read through a volatile, so the compiler does not know it
// and the copy is memory.copy: without bulk memory it would be a call to
// memcpy, which there is no libc to provide.
static volatile uint32_t greeting_len = sizeof(greeting) - 1;

EXPORT(gadgetAPIVersion) uint64_t gadgetAPIVersion(void)
{
	return 1;
}

EXPORT(gadgetInit) int32_t gadgetInit(void)
{
	size_t n = greeting_len;

	if (n > sizeof(buf))
		n = sizeof(buf);
	__builtin_memcpy(buf, greeting, n);
	gadgetLog(2 /* info */, (uint64_t)n << 32 | (uint32_t)(uintptr_t)buf);
	return 0;
}
