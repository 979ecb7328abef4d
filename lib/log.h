/* SPDX-License-Identifier: Apache-2.0 */
/* Logging for main() and RPC boundaries only; library code returns kc_err. */
#ifndef KC_LOG_H
#define KC_LOG_H

enum kc_log_level { KC_LOG_ERROR, KC_LOG_WARN, KC_LOG_INFO, KC_LOG_DEBUG };

/* ident: program name in each line. fd: where lines go (stderr by default). */
void kc_log_init(const char *ident, int fd);
void kc_log_set_level(enum kc_log_level lvl);
enum kc_log_level kc_log_get_level(void);
/* "error" | "warn" | "info" | "debug" (also "trace" = debug). -1 if unknown. */
int kc_log_parse_level(const char *s);
void kc_log(enum kc_log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_error(...) kc_log(KC_LOG_ERROR, __VA_ARGS__)
#define log_warn(...)  kc_log(KC_LOG_WARN, __VA_ARGS__)
#define log_info(...)  kc_log(KC_LOG_INFO, __VA_ARGS__)
#define log_debug(...)                                                                             \
	do {                                                                                       \
		if (kc_log_get_level() >= KC_LOG_DEBUG)                                            \
			kc_log(KC_LOG_DEBUG, __VA_ARGS__);                                         \
	} while (0)

#endif
