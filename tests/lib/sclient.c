/* SPDX-License-Identifier: Apache-2.0 */
#include "sclient.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "containerd/services/streaming/v1/streaming.pb-c.h"
#include "containerd/types/transfer/data.pb-c.h"
#include "endpoint.h"
#include "google/protobuf/any.pb-c.h"
#include "testutil.h"
#include "util.h"

#define T_DATA   "containerd.types.transfer.Data"
#define T_WINDOW "containerd.types.transfer.WindowUpdate"

int sclient_send(struct sclient *c, const char *type, const ProtobufCMessage *m, bool close,
		 kc_err **err)
{
	Google__Protobuf__Any a = GOOGLE__PROTOBUF__ANY__INIT;
	_cleanup_free_ uint8_t *buf = NULL;
	size_t len = 0;

	if (m)
		buf = kc_pb_pack(m, &len);
	a.type_url = (char *)type;
	a.value.data = buf;
	a.value.len = len;
	if (ttrpc_cstream_send(c->st, &a.base, close) < 0)
		return kc_err_set(err, EPIPE, "send %s: the stream is closed", type);
	return 0;
}

int sclient_grant(struct sclient *c, int32_t n, kc_err **err)
{
	Containerd__Types__Transfer__WindowUpdate w =
	    CONTAINERD__TYPES__TRANSFER__WINDOW_UPDATE__INIT;
	w.update = n;
	c->granted += n;
	return sclient_send(c, T_WINDOW, &w.base, false, err);
}

static void top_up(struct sclient *c)
{
	kc_err *e = NULL;
	if (sclient_grant(c, c->grant_step, &e) < 0)
		kc_err_free(e); /* the stream ended meanwhile: on_done tells */
}

static void on_data(ttrpc_cstream *s, const uint8_t *data, size_t len, bool closed, void *ud)
{
	struct sclient *c = ud;
	Google__Protobuf__Any *a = data ? google__protobuf__any__unpack(NULL, len, data) : NULL;
	(void)s;
	(void)closed;

	if (!a) {
		c->malformed = c->malformed || data;
		return;
	}
	if (!c->acked) {
		c->acked = true; /* containerd takes any first message */
		if (c->grant_step)
			top_up(c);
	} else if (!strcmp(a->type_url, T_DATA)) {
		Containerd__Types__Transfer__Data *d =
		    containerd__types__transfer__data__unpack(NULL, a->value.len, a->value.data);
		if (!d) {
			c->malformed = true;
		} else {
			c->granted -= (int64_t)d->data.len;
			c->overrun = c->overrun || c->granted < 0;
			c->got = xrealloc(c->got, c->got_len + d->data.len + 1);
			memcpy(c->got + c->got_len, d->data.data, d->data.len);
			c->got_len += d->data.len;
			c->got[c->got_len] = '\0';
			containerd__types__transfer__data__free_unpacked(d, NULL);
			/* containerd's reader tops its window up as it consumes. */
			if (c->grant_step && c->granted < c->grant_step / 2)
				top_up(c);
		}
	} else if (!strcmp(a->type_url, T_WINDOW)) {
		Containerd__Types__Transfer__WindowUpdate *w =
		    containerd__types__transfer__window_update__unpack(NULL, a->value.len,
								       a->value.data);
		if (!w) {
			c->malformed = true;
		} else {
			c->window += w->update;
			containerd__types__transfer__window_update__free_unpacked(w, NULL);
		}
	}
	google__protobuf__any__free_unpacked(a, NULL);
}

static void on_done(void *ud, const struct ttrpc_status *st, const uint8_t *p, size_t len)
{
	struct sclient *c = ud;
	(void)p;
	(void)len;
	c->done = true;
	c->code = st ? st->code : 0;
	snprintf(c->msg, sizeof(c->msg), "%s", st && st->message ? st->message : "");
}

int sclient_open(struct sclient *c, kc_loop *loop, const char *addr, const char *id,
		 int32_t grant_step, int timeout_ms, kc_err **err)
{
	struct kc_endpoint ep;
	int fd;

	memset(c, 0, sizeof(*c));
	c->grant_step = grant_step;
	if (kc_endpoint_parse(addr, &ep, err) < 0)
		return kc_err_retp(err);
	fd = kc_dial_once(&ep, kc_now_ns() + (uint64_t)timeout_ms * KC_NSEC_PER_MSEC, err);
	if (fd < 0)
		return kc_err_wrap(err, "dial %s", addr);
	if (ttrpc_client_new(loop, fd, &c->cli, err) < 0)
		return kc_err_retp(err);
	if (ttrpc_client_stream(c->cli, "containerd.services.streaming.v1.Streaming", "Stream",
				NULL, true, on_data, on_done, c, &c->st, err) < 0)
		return kc_err_retp(err);
	if (id) {
		Containerd__Services__Streaming__V1__StreamInit in =
		    CONTAINERD__SERVICES__STREAMING__V1__STREAM_INIT__INIT;
		in.id = (char *)id;
		if (sclient_send(c, "containerd.services.streaming.v1.StreamInit", &in.base, false,
				 err) < 0)
			return kc_err_retp(err);
		if (!tu_loop_until(loop, &c->acked, timeout_ms))
			return kc_err_set(err, ETIMEDOUT, "no answer to StreamInit %s in %d ms", id,
					  timeout_ms);
	}
	return 0;
}

void sclient_close(struct sclient *c)
{
	ttrpc_client_free(c->cli);
	free(c->got);
	memset(c, 0, sizeof(*c));
}
