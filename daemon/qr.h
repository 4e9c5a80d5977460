/* QR codes as SVG for the second factor's enrolment, drawn server-side with
 * libqrencode so the secret never passes through third-party code. */
#ifndef BRUG_QR_H
#define BRUG_QR_H

#define QR_QUIET_ZONE 4 /* modules of white border (ISO/IEC 18004) */

/*
 * The QR code of text (error correction M, byte mode) as a standalone SVG
 * document: a white square and one black path of whole modules, with a
 * quiet zone, in a viewBox of modules so it scales crisply. Returns a string
 * the caller frees (it encodes whatever text held: wipe it if secret), or
 * NULL if text is too long or memory runs out. text is borrowed.
 */
char *qr_svg(const char *text);

#endif
