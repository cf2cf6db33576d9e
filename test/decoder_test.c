/*
 * decoder_test.c
 *		Unit tests of src/decoder.c, outside the server, under AddressSanitizer
 *		and UBSan: every format, whole and fed a few bytes at a time, read out
 *		through buffers small and large; two streams one after another; cut
 *		short at every length; followed by garbage; not that format at all.
 *
 * The compressed inputs are made here with the same libraries.
 * Output: one line per case, then "N passed, N failed".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bzlib.h>
#include <lzma.h>
#include <zlib.h>
#include <zstd.h>

#include "../src/decoder.h"

static int	passed;
static int	failed;

static void
report(int ok, const char *format, const char *name, size_t detail)
{
	printf("%s: ", ok ? "ok" : "FAILED");
	printf(format, name, detail);
	printf("\n");
	if (ok)
		passed++;
	else
		failed++;
}

/* text shaped like an export: repetitive enough to compress well */
static char *
make_text(size_t *len)
{
	size_t		cap = 200000;
	char	   *text = malloc(cap);
	size_t		n = 0;
	unsigned	seed = 7;

	while (n + 100 < cap)
	{
		seed = seed * 1103515245 + 12345;
		n += snprintf(text + n, cap - n, "%u,\"name %u, with a comma\",%u\n",
					  seed % 100000, (seed >> 8) % 1000, seed % 7);
	}
	*len = n;
	return text;
}

static char *
compress_as(Compression compression, const char *text, size_t len, size_t *out_len)
{
	size_t		cap = len + len / 2 + 1024;
	char	   *out = malloc(cap);

	switch (compression)
	{
		case COMPRESSION_GZIP:
			{
				z_stream	z;

				memset(&z, 0, sizeof(z));
				deflateInit2(&z, 6, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY);
				z.next_in = (Bytef *) text;
				z.avail_in = len;
				z.next_out = (Bytef *) out;
				z.avail_out = cap;
				deflate(&z, Z_FINISH);
				*out_len = cap - z.avail_out;
				deflateEnd(&z);
			}
			break;
		case COMPRESSION_ZSTD:
			*out_len = ZSTD_compress(out, cap, text, len, 3);
			break;
		case COMPRESSION_BZIP2:
			{
				unsigned int n = cap;

				BZ2_bzBuffToBuffCompress(out, &n, (char *) text, len, 9, 0, 0);
				*out_len = n;
			}
			break;
		case COMPRESSION_XZ:
			*out_len = 0;
			lzma_easy_buffer_encode(6, LZMA_CHECK_CRC64, NULL, (const uint8_t *) text, len,
									(uint8_t *) out, out_len, cap);
			break;
		case COMPRESSION_NONE:
			memcpy(out, text, len);
			*out_len = len;
			break;
	}
	return out;
}

/*
 * Decode data fed step bytes at a time through buffers of buffer_size;
 * returns the output (malloc'd) and sets *out_len, *at_end, *error.
 */
static char *
decode_all(Compression compression, const char *data, size_t len, size_t step,
		   size_t buffer_size, size_t *out_len, int *at_end, const char **error)
{
	Decoder    *decoder = decoder_create(compression, buffer_size);
	size_t		cap = 1024;
	char	   *out = malloc(cap);
	size_t		fed = 0;

	*out_len = 0;
	*error = NULL;
	for (;;)
	{
		const char *piece;
		size_t		piece_len;
		DecoderResult result = DECODER_NEED_INPUT;

		if (decoder_has_input(decoder))
			result = decoder_decode(decoder, &piece, &piece_len);
		if (result == DECODER_ERROR)
		{
			*error = decoder_error(decoder);
			break;
		}
		if (result == DECODER_OUTPUT)
		{
			while (*out_len + piece_len > cap)
				out = realloc(out, cap *= 2);
			memcpy(out + *out_len, piece, piece_len);
			*out_len += piece_len;
			continue;
		}
		if (fed == len)
			break;
		piece_len = len - fed < step ? len - fed : step;
		decoder_feed(decoder, data + fed, piece_len);
		fed += piece_len;
	}
	*at_end = decoder_at_end(decoder);
	decoder_destroy(decoder);
	return out;
}

static void
test_format(Compression compression, const char *text, size_t text_len)
{
	const char *name = compression_name(compression);
	size_t		packed_len;
	char	   *packed = compress_as(compression, text, text_len, &packed_len);
	size_t		steps[] = {1, 3, 7, 4096, packed_len};
	size_t		buffers[] = {1, 7, 65536};
	size_t		i,
				j,
				out_len,
				cut;
	int			at_end;
	const char *error;
	char	   *out;
	char	   *twice;
	int			all_ok = 1;

	report(compression_by_magic((unsigned char *) packed, packed_len) == compression,
		   "%s: told by its magic bytes%.0zu", name, 0);
	for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++)
		for (j = 0; j < sizeof(buffers) / sizeof(buffers[0]); j++)
		{
			if (steps[i] == 1 && buffers[j] == 1 && compression == COMPRESSION_BZIP2)
				continue;		/* slow, and 1 x 7 covers it */
			out = decode_all(compression, packed, packed_len, steps[i], buffers[j],
							 &out_len, &at_end, &error);
			all_ok &= !error && at_end && out_len == text_len && memcmp(out, text, text_len) == 0;
			free(out);
		}
	report(all_ok, "%s: whole, fed 1 to all bytes at a time, out 1 to 64k at a time%.0zu",
		   name, 0);

	/* two streams, then garbage after them */
	twice = malloc(2 * packed_len + 8);
	memcpy(twice, packed, packed_len);
	memcpy(twice + packed_len, packed, packed_len);
	out = decode_all(compression, twice, 2 * packed_len, 4096, 65536, &out_len, &at_end, &error);
	report(!error && at_end && out_len == 2 * text_len &&
		   memcmp(out, text, text_len) == 0 && memcmp(out + text_len, text, text_len) == 0,
		   "%s: two streams one after another%.0zu", name, 0);
	free(out);
	memcpy(twice + packed_len, "garbage!", 8);
	out = decode_all(compression, twice, packed_len + 8, 4096, 65536, &out_len, &at_end, &error);
	report(error != NULL && strstr(error, "follows the end") != NULL,
		   "%s: garbage after the end is an error%.0zu", name, 0);
	free(out);
	free(twice);

	/* cut short anywhere: an error, or not at the end (never silently whole) */
	all_ok = 1;
	for (cut = 1; cut < packed_len; cut += (cut < 64 ? 1 : packed_len / 97 + 1))
	{
		out = decode_all(compression, packed, packed_len - cut, 4096, 65536, &out_len,
						 &at_end, &error);
		all_ok &= error != NULL || !at_end;
		free(out);
	}
	report(all_ok, "%s: cut short at every length, never complete%.0zu", name, 0);
	free(packed);
}

int
main(void)
{
	size_t		text_len;
	char	   *text = make_text(&text_len);
	Compression formats[] = {COMPRESSION_GZIP, COMPRESSION_ZSTD, COMPRESSION_BZIP2,
	COMPRESSION_XZ};
	size_t		i,
				out_len;
	int			at_end;
	const char *error;
	char	   *out;

	for (i = 0; i < sizeof(formats) / sizeof(formats[0]); i++)
		test_format(formats[i], text, text_len);

	/* text is not compressed, and is refused by every decoder */
	report(compression_by_magic((unsigned char *) text, text_len) == COMPRESSION_NONE,
		   "text: no magic%.0s%.0zu", "", 0);
	report(compression_by_magic((unsigned char *) "BZhello,world\n", 14) == COMPRESSION_NONE,
		   "text starting with BZh: no magic%.0s%.0zu", "", 0);
	for (i = 0; i < sizeof(formats) / sizeof(formats[0]); i++)
	{
		out = decode_all(formats[i], text, 4096, 4096, 65536, &out_len, &at_end, &error);
		report(error != NULL, "%s: text is not valid%.0zu", compression_name(formats[i]), 0);
		free(out);
	}
	/* gzip's decoder takes raw deflate too, as some servers send "deflate" */
	{
		z_stream	z;
		char		raw[100000];

		memset(&z, 0, sizeof(z));
		deflateInit2(&z, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY);
		z.next_in = (Bytef *) text;
		z.avail_in = text_len;
		z.next_out = (Bytef *) raw;
		z.avail_out = sizeof(raw);
		deflate(&z, Z_FINISH);
		out = decode_all(COMPRESSION_GZIP, raw, sizeof(raw) - z.avail_out, 7, 4096,
						 &out_len, &at_end, &error);
		report(!error && at_end && out_len == text_len && memcmp(out, text, text_len) == 0,
			   "gzip: raw deflate%.0s%.0zu", "", 0);
		deflateEnd(&z);
		free(out);
	}
	free(text);
	printf("%d passed, %d failed\n", passed, failed);
	return failed > 0;
}
