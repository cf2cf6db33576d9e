/*
 * archive.h
 *		The members of a zip or tar archive as its bytes arrive: fed the
 *		archive in pieces, a reader hands out each member's name, its bytes
 *		(decompressed, checked against the member's CRC for zip) and its end.
 *
 * Free of PostgreSQL (malloc and zlib only), so that a failure is a result
 * with a message, for the caller to raise.  Zip is read by its local
 * headers, in order, never by the central directory at its end: a member
 * written with a data descriptor is read if it is deflated (deflate ends by
 * itself), and is an error if it is stored (its size is only at the end).
 */
#ifndef CSV_EXPORT_ARCHIVE_H
#define CSV_EXPORT_ARCHIVE_H

#include <stdbool.h>
#include <stddef.h>

typedef enum ArchiveEvent
{
	ARCHIVE_NEED_INPUT,			/* the input is used up */
	ARCHIVE_MEMBER,				/* a file member starts: *data is its name */
	ARCHIVE_DATA,				/* bytes of the member */
	ARCHIVE_MEMBER_END,			/* the member is complete (and checked) */
	ARCHIVE_END,				/* the archive's end marker */
	ARCHIVE_ERROR				/* not a valid archive: archive_reader_error() */
} ArchiveEvent;

typedef struct ArchiveReader ArchiveReader;

/* NULL if out of memory */
extern ArchiveReader *archive_reader_create(size_t buffer_size);
extern void archive_reader_destroy(ArchiveReader *reader);

/* the next input; the last must be used up (ARCHIVE_NEED_INPUT) */
extern void archive_reader_feed(ArchiveReader *reader, const char *data, size_t len);

/*
 * The next event.  The bytes of ARCHIVE_DATA stay valid until the call
 * after next (or as long as the input they came in, where they are in it).
 */
extern ArchiveEvent archive_reader_next(ArchiveReader *reader, const char **data, size_t *len);

/* whether the input so far ends where the archive ends */
extern bool archive_reader_at_end(const ArchiveReader *reader);
extern bool archive_reader_untouched(const ArchiveReader *reader);
extern const char *archive_reader_error(const ArchiveReader *reader);
extern const char *archive_reader_format(const ArchiveReader *reader);

#endif							/* CSV_EXPORT_ARCHIVE_H */
