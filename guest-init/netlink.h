/* SPDX-License-Identifier: Apache-2.0 */
/* The few rtnetlink requests the guest needs, written by hand (libmnl cannot
 * be linked into the musl-static agent here). Each request is acked. */
#ifndef KC_NETLINK_H
#define KC_NETLINK_H

#include <stdbool.h>

#include "err.h"

/* ip link set dev NAME up|down */
int kc_nl_link_set_up(const char *ifname, bool up, kc_err **err);

#endif
