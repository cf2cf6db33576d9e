/*
 * libcsv_floor.c
 *		The parse floor: libcsv alone over a file, with exactly the settings
 *		csv_export_fdw's reader uses (see src/csv_reader.c), counting records
 *		and fields.  Reads in 256 kB chunks, as the scan receives them.
 */
#include <csv.h>
#include <stdio.h>
#include <stdlib.h>

static unsigned long fields;
static unsigned long records;

static int
no_space_chars(unsigned char c)
{
	(void) c;
	return 0;
}

static void
on_field(void *value, size_t len, void *arg)
{
	(void) value;
	(void) len;
	(void) arg;
	fields++;
}

static void
on_record(int c, void *arg)
{
	(void) c;
	(void) arg;
	records++;
}

int
main(int argc, char **argv)
{
	static char buf[256 * 1024];
	struct csv_parser parser;
	FILE	   *f;
	size_t		n;

	if (argc != 2 || (f = fopen(argv[1], "rb")) == NULL)
	{
		fprintf(stderr, "usage: libcsv_floor FILE\n");
		return 2;
	}
	csv_init(&parser, CSV_STRICT | CSV_STRICT_FINI | CSV_EMPTY_IS_NULL | CSV_REPALL_NL);
	csv_set_space_func(&parser, no_space_chars);
	csv_set_blk_size(&parser, 64 * 1024);
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		if (csv_parse(&parser, buf, n, on_field, on_record, NULL) != n)
		{
			fprintf(stderr, "parse error: %s\n", csv_strerror(csv_error(&parser)));
			return 1;
		}
	csv_fini(&parser, on_field, on_record, NULL);
	csv_free(&parser);
	fclose(f);
	printf("%lu records, %lu fields\n", records, fields);
	return 0;
}
