// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * p11-kit, absent: what lets the arm64 msmvm-alert link statically (make arm64,
 * docs/arm64.md). Its libmicrohttpd.a carries HTTPS, hence Debian's libgnutls.a, whose
 * PKCS#11 code calls p11-kit; Debian ships no libp11-kit.a (only the .so). msmvm-alert serves
 * plain HTTP and gnutls starts PKCS#11 only on its first use, so none of these is ever called
 * (tests/arm64/smoke.sh runs the binary's start-up and exit, where gnutls initializes). Should
 * one be, it stops the program with its name instead of answering with made-up values.
 */
#include <stdio.h>
#include <stdlib.h>

static void __attribute__((noreturn)) p11_absent(const char *fn)
{
	fprintf(stderr, "msmvm: %s: p11-kit (PKCS#11) is not part of this static build\n", fn);
	abort();
}

/* The names the archives reference (link-level only: none is called, so no prototypes). */
#define P11_ABSENT(fn) void fn(void); void fn(void) { p11_absent(#fn); }
P11_ABSENT(p11_kit_config_option)
P11_ABSENT(p11_kit_message)
P11_ABSENT(p11_kit_module_finalize)
P11_ABSENT(p11_kit_module_get_flags)
P11_ABSENT(p11_kit_module_get_name)
P11_ABSENT(p11_kit_module_load)
P11_ABSENT(p11_kit_module_release)
P11_ABSENT(p11_kit_modules_load)
P11_ABSENT(p11_kit_pin_file_callback)
P11_ABSENT(p11_kit_pin_get_length)
P11_ABSENT(p11_kit_pin_get_value)
P11_ABSENT(p11_kit_pin_new_for_string)
P11_ABSENT(p11_kit_pin_register_callback)
P11_ABSENT(p11_kit_pin_request)
P11_ABSENT(p11_kit_pin_unref)
P11_ABSENT(p11_kit_pin_unregister_callback)
P11_ABSENT(p11_kit_space_strdup)
P11_ABSENT(p11_kit_space_strlen)
P11_ABSENT(p11_kit_strerror)
P11_ABSENT(p11_kit_uri_format)
P11_ABSENT(p11_kit_uri_free)
P11_ABSENT(p11_kit_uri_get_attribute)
P11_ABSENT(p11_kit_uri_get_attributes)
P11_ABSENT(p11_kit_uri_get_module_info)
P11_ABSENT(p11_kit_uri_get_pin_source)
P11_ABSENT(p11_kit_uri_get_pin_value)
P11_ABSENT(p11_kit_uri_get_token_info)
P11_ABSENT(p11_kit_uri_match_module_info)
P11_ABSENT(p11_kit_uri_match_token_info)
P11_ABSENT(p11_kit_uri_new)
P11_ABSENT(p11_kit_uri_parse)
P11_ABSENT(p11_kit_uri_set_attribute)
