/*
 * decoder.h
 *		Streaming decompression in bounded memory: gzip (and zlib, raw
 *		deflate), zstd, bzip2 and xz.  A decoder is fed the bytes as they
 *		arrive and hands out what they decode to, one buffer at a time.
 *
 * Free of PostgreSQL: it allocates with malloc and calls only the format
 * libraries (zlib, libzstd, libbz2, liblzma), so a failure is a result with
 * a message, for the caller to raise.  Each library is the reference
 * implementation of its format, and each decodes push-style (input in,
 * output out, state kept between calls), which is how bytes arrive from a
 * non-blocking transfer.
 */
#ifndef CSV_EXPORT_DECODER_H
#define CSV_EXPORT_DECODER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum Compression
{
	COMPRESSION_NONE,
	COMPRESSION_GZIP,			/* gzip or zlib; raw deflate if neither */
	COMPRESSION_ZSTD,
	COMPRESSION_BZIP2,
	COMPRESSION_XZ
} Compression;

/* the bytes compression_by_magic() needs, where the body has that many */
#define COMPRESSION_MAGIC_LENGTH 10

typedef enum DecoderResult
{
	DECODER_OUTPUT,				/* bytes came out */
	DECODER_NEED_INPUT,			/* the input is used up; nothing came out */
	DECODER_ERROR				/* the data is not valid: decoder_error() */
} DecoderResult;

typedef struct Decoder Decoder;

extern Compression compression_by_magic(const unsigned char *data, size_t len);
extern const char *compression_name(Compression compression);

/* NULL if out of memory */
extern Decoder *decoder_create(Compression compression, size_t buffer_size);
extern void decoder_destroy(Decoder *decoder);

/* the next input; the last must be used up (decoder_has_input() false) */
extern void decoder_feed(Decoder *decoder, const char *data, size_t len);
extern bool decoder_has_input(const Decoder *decoder);

/*
 * Decode input into the next of two output buffers, as much as fits; the
 * buffer handed out before stays valid until the call after this one.
 */
extern DecoderResult decoder_decode(Decoder *decoder, const char **out, size_t *len);

/* whether the data so far ends where a compressed stream ends */
extern bool decoder_at_end(const Decoder *decoder);
extern const char *decoder_error(const Decoder *decoder);

#endif							/* CSV_EXPORT_DECODER_H */
