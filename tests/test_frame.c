// SPDX-License-Identifier: GPL-2.0
/*
 * The dashboard's frame helpers (src/lib/frame.c) that print: shares that never round to a
 * bound they are not at.
 */
#include "harness.h"
#include "msmvm/frame.h"

/* OVER%: 4106 pages used of 1.7 million counted is not "100" (none used) */
TEST(share_is_never_rounded_to_all_or_nothing)
{
	char b[8];

	CHECK_STR(msmvm_frame_share(b, sizeof(b), 100.0 * (1716626 - 7591) / 1716626), ">99");
	CHECK_STR(msmvm_frame_share(b, sizeof(b), 100.0), "100");
	CHECK_STR(msmvm_frame_share(b, sizeof(b), 99.5), ">99");	/* %.0f: "100" */
	CHECK_STR(msmvm_frame_share(b, sizeof(b), 99.4), "99");
	CHECK_STR(msmvm_frame_share(b, sizeof(b), 87.4), "87");
	CHECK_STR(msmvm_frame_share(b, sizeof(b), 0.0), "0");
	CHECK_STR(msmvm_frame_share(b, sizeof(b), 0.3), "<1");
	CHECK_STR(msmvm_frame_share(b, sizeof(b), 0.5), "<1");	/* %.0f: "0" */
	CHECK_STR(msmvm_frame_share(b, sizeof(b), 0.51), "1");
}

int main(void)
{
	return harness_main();
}
