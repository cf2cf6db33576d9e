/*
 * archive.c
 *		Zip and tar archives read as they arrive: see archive.h.
 *
 * A state machine over the input pieces.  Headers (and tar's long names)
 * are gathered into a buffer of the reader's; member bytes that are stored
 * are handed out where they are in the input, deflated ones are inflated
 * into two buffers in turn.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "archive.h"

/* a name, or a tar extended header, longer than this is no archive of ours */
#define MAX_HEADER_BYTES	(1024 * 1024)

#define ZIP_LOCAL_HEADER	0x04034b50
#define ZIP_CENTRAL_HEADER	0x02014b50
#define ZIP_END_RECORD		0x06054b50
#define ZIP_DESCRIPTOR		0x08074b50

typedef enum ReaderState
{
	DETECT,						/* the first bytes tell zip from tar */
	ZIP_SIGNATURE,
	ZIP_LOCAL,
	ZIP_NAME,
	ZIP_STORED,
	ZIP_DEFLATED,
	ZIP_DESCRIPTOR_START,
	ZIP_DESCRIPTOR_REST,
	ZIP_CHECK,
	TAR_HEADER,
	TAR_EXTENDED,				/* a pax header or a GNU long name */
	TAR_DATA,
	TAR_SKIP,					/* padding, or a member that is no file */
	TAIL,						/* past the end marker: the rest is ignored */
	FAILED
} ReaderState;

struct ArchiveReader
{
	ReaderState state;
	const char *format;
	const unsigned char *in;
	size_t		in_len;

	unsigned char *head;		/* bytes gathered: a header, a name */
	size_t		head_len;
	size_t		head_cap;
	size_t		head_need;

	char	   *name;			/* of the current member */
	char	   *next_name;		/* tar: a long name for the next header */
	uint64_t	remaining;		/* stored bytes, or bytes to skip */
	uint64_t	padding;		/* tar: after the member's data */
	int			zero_blocks;	/* tar: two end the archive */
	char		extended_type;	/* tar: 'x' or 'L' */

	/* zip */
	unsigned	flags;
	unsigned	method;
	uint32_t	crc_expected;
	uint32_t	crc;
	uint64_t	size_expected;	/* uncompressed */
	uint64_t	size;
	bool		zip64;
	z_stream	zlib;
	bool		zlib_started;
	char	   *out[2];
	int			turn;
	size_t		buffer_size;

	bool		ended;
	char		error[512];
};

static uint32_t
le16(const unsigned char *p)
{
	return p[0] | (p[1] << 8);
}

static uint32_t
le32(const unsigned char *p)
{
	return (uint32_t) p[0] | ((uint32_t) p[1] << 8) | ((uint32_t) p[2] << 16) |
		((uint32_t) p[3] << 24);
}

static uint64_t
le64(const unsigned char *p)
{
	return le32(p) | ((uint64_t) le32(p + 4) << 32);
}

static ArchiveEvent
fail(ArchiveReader *reader, const char *format, const char *name)
{
	snprintf(reader->error, sizeof(reader->error), format, name ? name : "");
	reader->state = FAILED;
	return ARCHIVE_ERROR;
}

ArchiveReader *
archive_reader_create(size_t buffer_size)
{
	ArchiveReader *reader = calloc(1, sizeof(ArchiveReader));

	if (reader == NULL)
		return NULL;
	reader->buffer_size = buffer_size;
	reader->out[0] = malloc(buffer_size);
	reader->out[1] = malloc(buffer_size);
	reader->head_cap = 1024;
	reader->head = malloc(reader->head_cap);
	if (!reader->out[0] || !reader->out[1] || !reader->head ||
		inflateInit2(&reader->zlib, -15) != Z_OK)
	{
		archive_reader_destroy(reader);
		return NULL;
	}
	reader->zlib_started = true;
	reader->format = "archive";
	return reader;
}

void
archive_reader_destroy(ArchiveReader *reader)
{
	if (reader == NULL)
		return;
	if (reader->zlib_started)
		inflateEnd(&reader->zlib);
	free(reader->out[0]);
	free(reader->out[1]);
	free(reader->head);
	free(reader->name);
	free(reader->next_name);
	free(reader);
}

void
archive_reader_feed(ArchiveReader *reader, const char *data, size_t len)
{
	reader->in = (const unsigned char *) data;
	reader->in_len = len;
}

bool
archive_reader_at_end(const ArchiveReader *reader)
{
	return reader->ended;
}

const char *
archive_reader_error(const ArchiveReader *reader)
{
	return reader->error;
}

const char *
archive_reader_format(const ArchiveReader *reader)
{
	return reader->format;
}

/* Gather input until the head holds need bytes; false if it wants more. */
static bool
gather(ArchiveReader *reader, size_t need)
{
	size_t		take;

	if (need > reader->head_cap)
	{
		unsigned char *bigger = realloc(reader->head, need);

		if (bigger == NULL)
			return false;		/* the caller sees no progress: an error */
		reader->head = bigger;
		reader->head_cap = need;
	}
	take = need - reader->head_len < reader->in_len ? need - reader->head_len : reader->in_len;
	if (take == 0)
		return reader->head_len == need;
	memcpy(reader->head + reader->head_len, reader->in, take);
	reader->head_len += take;
	reader->in += take;
	reader->in_len -= take;
	return reader->head_len == need;
}

static void
set_name(char **slot, const unsigned char *text, size_t len)
{
	free(*slot);
	*slot = malloc(len + 1);
	if (*slot)
	{
		memcpy(*slot, text, len);
		(*slot)[len] = '\0';
	}
}

/*
 * Zip
 */

/* The zip64 extra field: the sizes that did not fit 32 bits. */
static void
read_zip64_extra(ArchiveReader *reader, const unsigned char *extra, size_t len,
				 uint64_t *compressed)
{
	while (len >= 4)
	{
		unsigned	id = le16(extra);
		size_t		size = le16(extra + 2);
		const unsigned char *field = extra + 4;
		size_t		left = size;

		if (size > len - 4)
			return;
		if (id == 0x0001)
		{
			reader->zip64 = true;
			if (reader->size_expected == 0xFFFFFFFF && left >= 8)
			{
				reader->size_expected = le64(field);
				field += 8;
				left -= 8;
			}
			if (*compressed == 0xFFFFFFFF && left >= 8)
				*compressed = le64(field);
		}
		extra += 4 + size;
		len -= 4 + size;
	}
}

/* A local header and its name are in: the member starts (or is skipped). */
static ArchiveEvent
start_zip_member(ArchiveReader *reader, const char **data, size_t *len)
{
	const unsigned char *h = reader->head;
	size_t		name_len = le16(h + 26);
	uint64_t	compressed = le32(h + 18);

	reader->flags = le16(h + 6);
	reader->method = le16(h + 8);
	reader->crc_expected = le32(h + 14);
	reader->size_expected = le32(h + 22);
	reader->zip64 = false;
	read_zip64_extra(reader, h + 30 + name_len, le16(h + 28), &compressed);
	set_name(&reader->name, h + 30, name_len);
	reader->head_len = 0;
	if (reader->name == NULL)
		return fail(reader, "Out of memory.", NULL);
	if (reader->flags & 0x0001)
		return fail(reader, "Member \"%s\" is encrypted.", reader->name);
	if (reader->method != 0 && reader->method != 8)
		return fail(reader, "Member \"%s\" is compressed with a method other than deflate.",
					reader->name);
	if (reader->method == 0 && (reader->flags & 0x0008))
		return fail(reader, "Member \"%s\" is stored with a data descriptor: its size is written "
					"only after its data, so it cannot be read as the archive arrives.",
					reader->name);
	reader->crc = crc32(0, Z_NULL, 0);
	reader->size = 0;
	reader->remaining = compressed;
	if (reader->method == 8 && inflateReset(&reader->zlib) != Z_OK)
		return fail(reader, "zlib could not be reset.", NULL);
	reader->state = reader->method == 8 ? ZIP_DEFLATED : ZIP_STORED;
	*data = reader->name;
	*len = name_len;
	return ARCHIVE_MEMBER;
}

/*
 * Inflate some of a deflated member.  True with *event to return (its
 * bytes, an error, or that it wants input); false to go on (the stream
 * ended, or input went in without output yet).
 */
static bool
inflate_some(ArchiveReader *reader, const char **data, size_t *len, ArchiveEvent *event)
{
	z_stream   *z = &reader->zlib;
	char	   *out = reader->out[reader->turn];
	size_t		taken;
	size_t		made;
	int			rc;

	z->next_in = (Bytef *) reader->in;
	z->avail_in = reader->in_len > UINT32_MAX ? UINT32_MAX : (uInt) reader->in_len;
	z->next_out = (Bytef *) out;
	z->avail_out = reader->buffer_size;
	rc = inflate(z, Z_NO_FLUSH);
	taken = (const unsigned char *) z->next_in - reader->in;
	made = reader->buffer_size - z->avail_out;
	reader->in += taken;
	reader->in_len -= taken;
	if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR)
	{
		*event = fail(reader, "Member \"%s\" does not inflate.", reader->name);
		return true;
	}
	if (rc == Z_STREAM_END)
		reader->state = (reader->flags & 0x0008) ? ZIP_DESCRIPTOR_START : ZIP_CHECK;
	if (made > 0)
	{
		reader->crc = crc32(reader->crc, (Bytef *) out, made);
		reader->size += made;
		reader->turn ^= 1;
		*data = out;
		*len = made;
		*event = ARCHIVE_DATA;
		return true;
	}
	if (rc == Z_STREAM_END || taken > 0)
		return false;
	*event = ARCHIVE_NEED_INPUT;
	return true;
}

/* The member's bytes are all out: its CRC (and size) checked. */
static ArchiveEvent
end_zip_member(ArchiveReader *reader)
{
	if (reader->crc != reader->crc_expected)
		return fail(reader, "Member \"%s\" does not match its CRC-32.", reader->name);
	if (!(reader->flags & 0x0008) && reader->size != reader->size_expected)
		return fail(reader, "Member \"%s\" is not the size its header says.", reader->name);
	reader->head_len = 0;
	reader->state = ZIP_SIGNATURE;
	return ARCHIVE_MEMBER_END;
}

/* Bytes of a member that are in the input as they are (stored, tar). */
static ArchiveEvent
pass_stored(ArchiveReader *reader, const char **data, size_t *len)
{
	size_t		n = reader->remaining < reader->in_len ? reader->remaining : reader->in_len;

	if (n == 0)
		return ARCHIVE_NEED_INPUT;
	*data = (const char *) reader->in;
	*len = n;
	reader->crc = crc32(reader->crc, reader->in, n);
	reader->size += n;
	reader->in += n;
	reader->in_len -= n;
	reader->remaining -= n;
	return ARCHIVE_DATA;
}

static ArchiveEvent
next_zip(ArchiveReader *reader, const char **data, size_t *len, bool *go_on)
{
	ArchiveEvent event;
	uint32_t	signature;

	*go_on = false;
	switch (reader->state)
	{
		case ZIP_SIGNATURE:
			if (!gather(reader, 4))
				return ARCHIVE_NEED_INPUT;
			signature = le32(reader->head);
			if (signature == ZIP_LOCAL_HEADER)
				reader->state = ZIP_LOCAL;
			else if (signature == ZIP_CENTRAL_HEADER || signature == ZIP_END_RECORD)
			{
				/* the central directory: every member has been read */
				reader->ended = true;
				reader->state = TAIL;
			}
			else
				return fail(reader, "Where a zip member should start, there is other data.", NULL);
			break;
		case ZIP_LOCAL:
			if (!gather(reader, 30))
				return ARCHIVE_NEED_INPUT;
			reader->state = ZIP_NAME;
			break;
		case ZIP_NAME:
			if (!gather(reader, 30 + le16(reader->head + 26) + le16(reader->head + 28)))
				return ARCHIVE_NEED_INPUT;
			return start_zip_member(reader, data, len);
		case ZIP_STORED:
			if (reader->remaining == 0)
				return end_zip_member(reader);
			return pass_stored(reader, data, len);
		case ZIP_DEFLATED:
			if (inflate_some(reader, data, len, &event))
				return event;
			break;
		case ZIP_DESCRIPTOR_START:
			/* its signature is optional: without it, these are the CRC */
			if (!gather(reader, 4))
				return ARCHIVE_NEED_INPUT;
			if (le32(reader->head) == ZIP_DESCRIPTOR)
				reader->head_len = 0;
			reader->state = ZIP_DESCRIPTOR_REST;
			break;
		case ZIP_DESCRIPTOR_REST:
			if (!gather(reader, reader->zip64 ? 20 : 12))
				return ARCHIVE_NEED_INPUT;
			reader->crc_expected = le32(reader->head);
			reader->size_expected = reader->zip64 ? le64(reader->head + 12)
				: le32(reader->head + 8);
			if (reader->size != reader->size_expected)
				return fail(reader, "Member \"%s\" is not the size its data descriptor says.",
							reader->name);
			reader->state = ZIP_CHECK;
			break;
		case ZIP_CHECK:
			return end_zip_member(reader);
		default:
			return fail(reader, "Internal error in the zip reader.", NULL);
	}
	*go_on = true;
	return ARCHIVE_NEED_INPUT;
}

/*
 * Tar (ustar, pax and GNU long names)
 */

/* a numeric field: octal digits, or base 256 when its first bit is set */
static uint64_t
tar_number(const unsigned char *field, size_t len)
{
	uint64_t	value = 0;
	size_t		i;

	if (field[0] & 0x80)
	{
		for (i = 1; i < len; i++)
			value = (value << 8) | field[i];
		return value;
	}
	for (i = 0; i < len && (field[i] == ' ' || field[i] == '\0'); i++)
		;
	for (; i < len && field[i] >= '0' && field[i] <= '7'; i++)
		value = value * 8 + (field[i] - '0');
	return value;
}

static bool
tar_checksum_ok(const unsigned char *h)
{
	uint64_t	sum = 0;
	int			i;

	for (i = 0; i < 512; i++)
		sum += (i >= 148 && i < 156) ? ' ' : h[i];
	return sum == tar_number(h + 148, 8);
}

/* a field's text: up to its first NUL, at most len bytes */
static size_t
field_length(const unsigned char *field, size_t len)
{
	const unsigned char *nul = memchr(field, '\0', len);

	return nul ? (size_t) (nul - field) : len;
}

/* The member name a header gives: prefix/name, unless a long name came before. */
static void
tar_member_name(ArchiveReader *reader)
{
	const unsigned char *h = reader->head;
	size_t		prefix_len = memcmp(h + 257, "ustar", 5) == 0 ? field_length(h + 345, 155) : 0;
	size_t		name_len = field_length(h, 100);
	unsigned char joined[256 + 2];

	if (reader->next_name)
	{
		free(reader->name);
		reader->name = reader->next_name;
		reader->next_name = NULL;
		return;
	}
	memcpy(joined, h + 345, prefix_len);
	if (prefix_len > 0)
		joined[prefix_len++] = '/';
	memcpy(joined + prefix_len, h, name_len);
	set_name(&reader->name, joined, prefix_len + name_len);
}

/* pax records "LEN path=VALUE\n": the path, for the next header */
static void
read_pax(ArchiveReader *reader)
{
	const char *text = (const char *) reader->head;
	size_t		at = 0;

	while (at < reader->head_len)
	{
		char	   *end;
		unsigned long record = strtoul(text + at, &end, 10);
		const char *key = end + 1;

		if (record == 0 || at + record > reader->head_len || *end != ' ')
			return;
		if (strncmp(key, "path=", 5) == 0)
			set_name(&reader->next_name, (const unsigned char *) key + 5,
					 text + at + record - 1 - (key + 5));
		at += record;
	}
}

static ArchiveEvent
tar_header(ArchiveReader *reader, const char **data, size_t *len, bool *go_on)
{
	const unsigned char *h = reader->head;
	uint64_t	size;
	char		type;
	size_t		i;

	*go_on = true;
	for (i = 0; i < 512 && h[i] == 0; i++)
		;
	reader->head_len = 0;
	if (i == 512)
	{
		/* two zero blocks end the archive */
		if (++reader->zero_blocks == 2)
		{
			reader->ended = true;
			reader->state = TAIL;
		}
		return ARCHIVE_NEED_INPUT;
	}
	reader->zero_blocks = 0;
	if (!tar_checksum_ok(h))
		return fail(reader, strcmp(reader->format, "tar") == 0
					? "A tar header does not match its checksum."
					: "The body is neither a zip nor a tar archive.", NULL);
	reader->format = "tar";
	size = tar_number(h + 124, 12);
	type = (char) h[156];
	reader->padding = (512 - size % 512) % 512;
	if (type == '0' || type == '\0' || type == '7')
	{
		tar_member_name(reader);
		if (reader->name == NULL)
			return fail(reader, "Out of memory.", NULL);
		reader->remaining = size;
		reader->state = TAR_DATA;
		*go_on = false;
		*data = reader->name;
		*len = strlen(reader->name);
		return ARCHIVE_MEMBER;
	}
	if ((type == 'x' || type == 'L') && size <= MAX_HEADER_BYTES)
	{
		reader->extended_type = type;
		reader->head_need = (size_t) size;
		reader->state = TAR_EXTENDED;
		return ARCHIVE_NEED_INPUT;
	}
	/* directories, links, global headers: nothing to read */
	reader->remaining = size + reader->padding;
	reader->state = TAR_SKIP;
	return ARCHIVE_NEED_INPUT;
}

static void
skip_some(ArchiveReader *reader)
{
	size_t		n = reader->remaining < reader->in_len ? reader->remaining : reader->in_len;

	reader->in += n;
	reader->in_len -= n;
	reader->remaining -= n;
}

static ArchiveEvent
next_tar(ArchiveReader *reader, const char **data, size_t *len, bool *go_on)
{
	ArchiveEvent event;

	*go_on = true;
	switch (reader->state)
	{
		case TAR_HEADER:
			if (!gather(reader, 512))
				break;
			return tar_header(reader, data, len, go_on);
		case TAR_EXTENDED:
			if (!gather(reader, reader->head_need))
				break;
			if (reader->extended_type == 'L')
				set_name(&reader->next_name, reader->head,
						 field_length(reader->head, reader->head_len));
			else
				read_pax(reader);
			reader->head_len = 0;
			reader->remaining = reader->padding;
			reader->state = TAR_SKIP;
			return ARCHIVE_NEED_INPUT;
		case TAR_DATA:
			if (reader->remaining == 0)
			{
				reader->remaining = reader->padding;
				reader->state = TAR_SKIP;
				*go_on = false;
				return ARCHIVE_MEMBER_END;
			}
			event = pass_stored(reader, data, len);
			if (event == ARCHIVE_DATA)
				*go_on = false;
			else
				break;
			return event;
		case TAR_SKIP:
			skip_some(reader);
			if (reader->remaining > 0)
				break;
			reader->state = TAR_HEADER;
			return ARCHIVE_NEED_INPUT;
		default:
			return fail(reader, "Internal error in the tar reader.", NULL);
	}
	*go_on = false;
	return ARCHIVE_NEED_INPUT;
}

ArchiveEvent
archive_reader_next(ArchiveReader *reader, const char **data, size_t *len)
{
	for (;;)
	{
		ArchiveEvent event;
		bool		go_on;

		switch (reader->state)
		{
			case DETECT:
				/* "PK": zip; else tar, whose first header checks it */
				if (!gather(reader, 2))
					return ARCHIVE_NEED_INPUT;
				if (memcmp(reader->head, "PK", 2) == 0)
				{
					reader->format = "zip";
					reader->state = ZIP_SIGNATURE;
				}
				else
					reader->state = TAR_HEADER;
				continue;
			case TAIL:
				reader->in_len = 0;
				return ARCHIVE_NEED_INPUT;
			case FAILED:
				return ARCHIVE_ERROR;
			case TAR_HEADER:
			case TAR_EXTENDED:
			case TAR_DATA:
			case TAR_SKIP:
				event = next_tar(reader, data, len, &go_on);
				break;
			default:
				event = next_zip(reader, data, len, &go_on);
				break;
		}
		/* go_on: the state moved on; its next step may have an event */
		if (!go_on)
			return event;
	}
}

/* whether the reader has seen nothing of the body (an empty body) */
bool
archive_reader_untouched(const ArchiveReader *reader)
{
	return reader->state == DETECT && reader->head_len == 0;
}
