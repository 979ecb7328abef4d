/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A containerd.services.streaming.v1.Streaming client as containerd is one:
 * a connection of its own per stream, StreamInit{id}, any first answer is the
 * ack, then Data and WindowUpdate as google.protobuf.Any both ways. As a
 * reader it grants grant_step bytes and tops up as it consumes (and notes an
 * overrun of its window); as a writer it counts the window granted to it.
 */
#ifndef KC_TEST_SCLIENT_H
#define KC_TEST_SCLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "err.h"
#include "loop.h"
#include "ttrpc.h"

struct sclient {
	ttrpc_client *cli;
	ttrpc_cstream *st;
	bool acked, done;
	int code; /* the stream's final status */
	char msg[256];
	uint8_t *got; /* Data received, NUL-terminated */
	size_t got_len;
	int64_t granted; /* what we granted, minus what arrived */
	int32_t grant_step;
	bool overrun;   /* more arrived than we granted */
	bool malformed; /* a message that did not unpack */
	int64_t window; /* what the other side granted us */
};

/* Dial addr (unix://, hvsock://...), open the stream and, with an id, send
 * StreamInit and wait (iterating loop) up to timeout_ms for the ack. */
int sclient_open(struct sclient *c, kc_loop *loop, const char *addr, const char *id,
		 int32_t grant_step, int timeout_ms, kc_err **err);
/* Send m (may be NULL: empty) wrapped in an Any of type_url type. */
int sclient_send(struct sclient *c, const char *type, const ProtobufCMessage *m, bool close,
		 kc_err **err);
int sclient_grant(struct sclient *c, int32_t n, kc_err **err);
void sclient_close(struct sclient *c);

#endif
