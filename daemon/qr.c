/* Rendering a QR code as one SVG path (see qr.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <qrencode.h>
#include "qr.h"

/* A growing string; on failure it is freed and stays NULL. */
struct sbuf {
	char *s;
	size_t len, cap;
};

static void sb_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void sb_printf(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->s == NULL)
		return;
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
		if (n < 0)
			goto fail;
		if ((size_t)n < b->cap - b->len) {
			b->len += (size_t)n;
			return;
		}
		size_t cap = b->cap * 2 + (size_t)n;
		char *s = realloc(b->s, cap);
		if (s == NULL)
			goto fail;
		b->s = s;
		b->cap = cap;
	}
fail:
	free(b->s);
	b->s = NULL;
}

char *qr_svg(const char *text)
{
	struct sbuf b = { 0 };
	QRcode *qr;
	int w, size;

	if (text == NULL)
		return NULL;
	qr = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
	if (qr == NULL)
		return NULL;
	w = qr->width;
	size = w + 2 * QR_QUIET_ZONE;
	b.cap = 4096;
	b.s = malloc(b.cap);
	sb_printf(&b, "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %d\""
		      " shape-rendering=\"crispEdges\" role=\"img\">"
		      "<rect width=\"%d\" height=\"%d\" fill=\"#fff\"/><path fill=\"#000\" d=\"",
		  size, size, size, size);
	/* One subpath per horizontal run of dark modules keeps the path
	 * short; bit 0 of each byte is the module's colour. */
	for (int y = 0; y < w; y++) {
		for (int x = 0; x < w;) {
			if (!(qr->data[y * w + x] & 1)) {
				x++;
				continue;
			}
			int run = 1;
			while (x + run < w && (qr->data[y * w + x + run] & 1))
				run++;
			sb_printf(&b, "M%d %dh%dv1h-%dz", x + QR_QUIET_ZONE, y + QR_QUIET_ZONE, run, run);
			x += run;
		}
	}
	sb_printf(&b, "\"/></svg>");
	/* The modules spell the enrolment secret. */
	explicit_bzero(qr->data, (size_t)w * (size_t)w);
	QRcode_free(qr);
	return b.s;
}
