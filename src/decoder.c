/*
 * decoder.c
 *		Streaming decompression: see decoder.h.
 *
 * Every format allows several compressed streams one after another (gzip
 * members, zstd frames, bzip2 streams as pbzip2 writes them, xz streams):
 * once a stream ends, what follows must be the start of another of the
 * same format, or the data is not valid.  A body that stops inside a
 * stream is the caller's to call broken (decoder_at_end() is false).
 */
#include <stdlib.h>
#include <string.h>

#include <bzlib.h>
#include <lzma.h>
#include <zlib.h>
#include <zstd.h>

#include "decoder.h"

struct Decoder
{
	Compression compression;
	size_t		buffer_size;
	char	   *out[2];
	int			turn;
	const unsigned char *in;	/* input not yet taken */
	size_t		in_len;
	bool		in_stream;		/* inside a stream: started, not ended */
	bool		output_pending; /* the last call filled the buffer: more may come */
	bool		any_output;
	bool		raw_deflate;	/* gzip: neither a gzip nor a zlib header */
	const char *error;

	z_stream	zlib;
	ZSTD_DStream *zstd;
	bz_stream	bzip2;
	lzma_stream xz;
	bool		started;		/* the library's state is set up */
};

static const struct
{
	Compression compression;
	const char *name;
	const unsigned char *magic;
	size_t		length;
}			magics[] = {
	{COMPRESSION_GZIP, "gzip", (const unsigned char *) "\x1f\x8b\x08", 3},
	{COMPRESSION_ZSTD, "zstd", (const unsigned char *) "\x28\xb5\x2f\xfd", 4},
	{COMPRESSION_XZ, "xz", (const unsigned char *) "\xfd\x37\x7a\x58\x5a\x00", 6},
	/* "BZh", the block size, and a block's magic or the end-of-stream one */
	{COMPRESSION_BZIP2, "bzip2", (const unsigned char *) "BZh", 3},
};

static bool
is_bzip2(const unsigned char *data, size_t len)
{
	return len >= 10 && memcmp(data, "BZh", 3) == 0 && data[3] >= '1' && data[3] <= '9' &&
		(memcmp(data + 4, "\x31\x41\x59\x26\x53\x59", 6) == 0 ||
		 memcmp(data + 4, "\x17\x72\x45\x38\x50\x90", 6) == 0);
}

/*
 * The format whose magic bytes data starts with, or COMPRESSION_NONE.  CSV
 * text never starts so, but for bzip2's "BZh", which is followed by bytes
 * no text has.
 */
Compression
compression_by_magic(const unsigned char *data, size_t len)
{
	size_t		i;

	for (i = 0; i < sizeof(magics) / sizeof(magics[0]); i++)
	{
		if (len < magics[i].length || memcmp(data, magics[i].magic, magics[i].length) != 0)
			continue;
		if (magics[i].compression == COMPRESSION_BZIP2 && !is_bzip2(data, len))
			continue;
		return magics[i].compression;
	}
	return COMPRESSION_NONE;
}

const char *
compression_name(Compression compression)
{
	size_t		i;

	for (i = 0; i < sizeof(magics) / sizeof(magics[0]); i++)
		if (magics[i].compression == compression)
			return magics[i].name;
	return "none";
}

static void
stop_library(Decoder *decoder)
{
	if (!decoder->started)
		return;
	switch (decoder->compression)
	{
		case COMPRESSION_GZIP:
			inflateEnd(&decoder->zlib);
			break;
		case COMPRESSION_ZSTD:
			ZSTD_freeDStream(decoder->zstd);
			decoder->zstd = NULL;
			break;
		case COMPRESSION_BZIP2:
			BZ2_bzDecompressEnd(&decoder->bzip2);
			break;
		case COMPRESSION_XZ:
			lzma_end(&decoder->xz);
			break;
		case COMPRESSION_NONE:
			break;
	}
	decoder->started = false;
}

/* Set up the library for a stream; false if out of memory. */
static bool
start_library(Decoder *decoder)
{
	stop_library(decoder);
	switch (decoder->compression)
	{
		case COMPRESSION_GZIP:
			memset(&decoder->zlib, 0, sizeof(decoder->zlib));
			/* 15 + 32: a zlib or gzip header, told apart by zlib; -15: none */
			decoder->started = inflateInit2(&decoder->zlib,
											decoder->raw_deflate ? -15 : 15 + 32) == Z_OK;
			break;
		case COMPRESSION_ZSTD:
			decoder->zstd = ZSTD_createDStream();
			decoder->started = decoder->zstd != NULL &&
				!ZSTD_isError(ZSTD_initDStream(decoder->zstd));
			break;
		case COMPRESSION_BZIP2:
			memset(&decoder->bzip2, 0, sizeof(decoder->bzip2));
			decoder->started = BZ2_bzDecompressInit(&decoder->bzip2, 0, 0) == BZ_OK;
			break;
		case COMPRESSION_XZ:
			{
				lzma_stream fresh = LZMA_STREAM_INIT;

				decoder->xz = fresh;
				decoder->started = lzma_stream_decoder(&decoder->xz, UINT64_MAX, 0) == LZMA_OK;
			}
			break;
		case COMPRESSION_NONE:
			break;
	}
	return decoder->started;
}

Decoder *
decoder_create(Compression compression, size_t buffer_size)
{
	Decoder    *decoder = calloc(1, sizeof(Decoder));

	if (decoder == NULL)
		return NULL;
	decoder->compression = compression;
	decoder->buffer_size = buffer_size;
	decoder->out[0] = malloc(buffer_size);
	decoder->out[1] = malloc(buffer_size);
	if (!decoder->out[0] || !decoder->out[1] || !start_library(decoder))
	{
		decoder_destroy(decoder);
		return NULL;
	}
	return decoder;
}

void
decoder_destroy(Decoder *decoder)
{
	if (decoder == NULL)
		return;
	stop_library(decoder);
	free(decoder->out[0]);
	free(decoder->out[1]);
	free(decoder);
}

void
decoder_feed(Decoder *decoder, const char *data, size_t len)
{
	decoder->in = (const unsigned char *) data;
	decoder->in_len = len;
}

/* whether decoder_decode() has anything to work on: input, or output held back */
bool
decoder_has_input(const Decoder *decoder)
{
	return decoder->in_len > 0 || decoder->output_pending;
}

bool
decoder_at_end(const Decoder *decoder)
{
	return !decoder->in_stream;
}

const char *
decoder_error(const Decoder *decoder)
{
	return decoder->error;
}

/*
 * One call of the library: from in (in_len bytes) into out (room bytes);
 * sets what it took and made, and whether a stream ended.  False, with
 * decoder->error, if the data is not valid.
 */
static bool
decode_step(Decoder *decoder, char *out, size_t room, size_t *taken, size_t *made, bool *ended)
{
	const unsigned char *in = decoder->in;
	size_t		in_len = decoder->in_len;

	*ended = false;
	switch (decoder->compression)
	{
		case COMPRESSION_GZIP:
			{
				z_stream   *z = &decoder->zlib;
				int			rc;

				z->next_in = (Bytef *) in;
				z->avail_in = (uInt) (in_len > UINT32_MAX ? UINT32_MAX : in_len);
				z->next_out = (Bytef *) out;
				z->avail_out = (uInt) room;
				rc = inflate(z, Z_NO_FLUSH);
				*taken = (const unsigned char *) z->next_in - in;
				*made = room - z->avail_out;
				*ended = rc == Z_STREAM_END;
				if (rc == Z_OK || rc == Z_STREAM_END || rc == Z_BUF_ERROR)
					return true;
				decoder->error = z->msg ? z->msg : "zlib could not decode it";
				return false;
			}
		case COMPRESSION_ZSTD:
			{
				ZSTD_inBuffer input = {in, in_len, 0};
				ZSTD_outBuffer output = {out, room, 0};
				size_t		rc = ZSTD_decompressStream(decoder->zstd, &output, &input);

				*taken = input.pos;
				*made = output.pos;
				if (ZSTD_isError(rc))
				{
					decoder->error = ZSTD_getErrorName(rc);
					return false;
				}
				*ended = rc == 0;	/* a frame decoded and flushed */
				return true;
			}
		case COMPRESSION_BZIP2:
			{
				bz_stream  *bz = &decoder->bzip2;
				int			rc;

				bz->next_in = (char *) in;
				bz->avail_in = (unsigned int) (in_len > UINT32_MAX ? UINT32_MAX : in_len);
				bz->next_out = out;
				bz->avail_out = (unsigned int) room;
				rc = BZ2_bzDecompress(bz);
				*taken = (const unsigned char *) bz->next_in - in;
				*made = room - bz->avail_out;
				*ended = rc == BZ_STREAM_END;
				if (rc == BZ_OK || rc == BZ_STREAM_END)
					return true;
				decoder->error = "libbz2 could not decode it";
				return false;
			}
		case COMPRESSION_XZ:
			{
				lzma_stream *xz = &decoder->xz;
				lzma_ret	rc;

				xz->next_in = in;
				xz->avail_in = in_len;
				xz->next_out = (uint8_t *) out;
				xz->avail_out = room;
				rc = lzma_code(xz, LZMA_RUN);
				*taken = xz->next_in - in;
				*made = room - xz->avail_out;
				*ended = rc == LZMA_STREAM_END;
				if (rc == LZMA_OK || rc == LZMA_STREAM_END || rc == LZMA_BUF_ERROR)
					return true;
				decoder->error = rc == LZMA_MEM_ERROR ? "out of memory"
					: rc == LZMA_FORMAT_ERROR ? "not in the xz format"
					: "liblzma could not decode it";
				return false;
			}
		case COMPRESSION_NONE:
			break;
	}
	decoder->error = "no compression to decode";
	return false;
}

/*
 * Whether the input, after a stream's end, can start another stream of the
 * format (as far as its first bytes tell); raw deflate has but one.
 */
static bool
starts_next_stream(const Decoder *decoder)
{
	size_t		i;

	if (decoder->raw_deflate)
		return false;
	for (i = 0; i < sizeof(magics) / sizeof(magics[0]); i++)
		if (magics[i].compression == decoder->compression)
			return memcmp(decoder->in, magics[i].magic,
						  decoder->in_len < magics[i].length ? decoder->in_len
						  : magics[i].length) == 0;
	return false;
}

/*
 * After a stream's end: the start of the next one.  Servers that send
 * "deflate" without the zlib header it should have fail at their very first
 * byte: that stream is tried again as raw deflate.
 */
static bool
restart(Decoder *decoder, bool raw_deflate)
{
	decoder->raw_deflate = raw_deflate;
	if (start_library(decoder))
		return true;
	decoder->error = "out of memory";
	return false;
}

DecoderResult
decoder_decode(Decoder *decoder, const char **out, size_t *len)
{
	char	   *buffer = decoder->out[decoder->turn];
	size_t		produced = 0;

	while ((decoder->in_len > 0 || decoder->output_pending) && produced < decoder->buffer_size)
	{
		size_t		room = decoder->buffer_size - produced;
		size_t		taken = 0;
		size_t		made = 0;
		bool		ended;
		bool		first_call = !decoder->in_stream && !decoder->any_output;


		if (!decoder->in_stream && decoder->any_output)
		{
			if (!starts_next_stream(decoder))
			{
				decoder->error = "Data follows the end of the compressed stream.";
				return DECODER_ERROR;
			}
			/* zstd's stream goes on to the next frame by itself */
			if (decoder->compression != COMPRESSION_ZSTD &&
				!restart(decoder, decoder->raw_deflate))
				return DECODER_ERROR;
		}
		decoder->in_stream = true;
		if (!decode_step(decoder, buffer + produced, room, &taken, &made, &ended))
		{
			if (decoder->compression == COMPRESSION_GZIP && first_call && !decoder->raw_deflate)
			{
				if (!restart(decoder, true))
					return DECODER_ERROR;
				continue;
			}
			return DECODER_ERROR;
		}
		decoder->in += taken;
		decoder->in_len -= taken;
		produced += made;
		decoder->any_output |= made > 0 || ended;
		/* a library may hold decoded bytes back when the buffer is full */
		decoder->output_pending = made == room && !ended;
		if (ended)
			decoder->in_stream = false;
		if (taken == 0 && made == 0 && !ended)
		{
			if (decoder->in_len == 0)
				break;			/* it needs more input */
			decoder->error = "the decoder made no progress";
			return DECODER_ERROR;
		}
	}
	if (produced == 0)
		return DECODER_NEED_INPUT;
	*out = buffer;
	*len = produced;
	decoder->turn ^= 1;
	return DECODER_OUTPUT;
}
