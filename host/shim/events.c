/* SPDX-License-Identifier: Apache-2.0 */
#include "events.h"

#include "shim.h"

void events_publish(const char *topic, const char *type, const ProtobufCMessage *msg)
{
	if (shim->events)
		kc_evpub_publish(shim->events, topic, type, msg);
}
