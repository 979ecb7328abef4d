/* SPDX-License-Identifier: Apache-2.0 */
/* Task events to containerd through the shim's kc_evpub queue (a no-op
 * when the shim was not started by containerd). */
#ifndef KC_SHIM_EVENTS_H
#define KC_SHIM_EVENTS_H

#include <protobuf-c/protobuf-c.h>

void events_publish(const char *topic, const char *type, const ProtobufCMessage *msg);

#endif
