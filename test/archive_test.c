/*
 * archive_test.c
 *		Unit tests of src/archive.c, outside the server, under AddressSanitizer
 *		and UBSan: each archive the command line names (made by the mock API's
 *		archive_bytes(), with a file of what its members hold) is read fed 1,
 *		3, 7, 512 bytes at a time and whole, through 1-byte, 7-byte and 64 kB
 *		output buffers; cut short at every length, where it must either
 *		fail or not be at its end, unless every member came out whole; and
 *		with each of its bytes changed in turn, read without a memory fault.
 *
 * Usage: archive_test ARCHIVE EXPECTED ...
 * Output: one line per case, then "N passed, N failed".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/archive.h"

static int	passed;
static int	failed;

static char *
read_file(const char *path, size_t *len)
{
	FILE	   *f = fopen(path, "rb");
	char	   *data;

	if (f == NULL)
		return NULL;
	fseek(f, 0, SEEK_END);
	*len = ftell(f);
	fseek(f, 0, SEEK_SET);
	data = malloc(*len + 1);
	*len = fread(data, 1, *len, f);
	fclose(f);
	return data;
}

static void
append(char **out, size_t *len, size_t *cap, const char *data, size_t n)
{
	while (*len + n + 1 > *cap)
		*out = realloc(*out, *cap *= 2);
	memcpy(*out + *len, data, n);
	*len += n;
}

/* "[name]bytes[end]" for each member, as the mock writes the expected file */
static char *
read_archive(const char *data, size_t len, size_t step, size_t buffer, size_t *out_len,
			 int *at_end, int *error)
{
	ArchiveReader *reader = archive_reader_create(buffer);
	size_t		cap = 1024;
	char	   *out = malloc(cap);
	size_t		fed = 0;

	*out_len = 0;
	*error = 0;
	for (;;)
	{
		const char *piece;
		size_t		n;
		ArchiveEvent event = archive_reader_next(reader, &piece, &n);

		if (event == ARCHIVE_ERROR)
		{
			*error = 1;
			break;
		}
		if (event == ARCHIVE_MEMBER)
		{
			append(&out, out_len, &cap, "[", 1);
			append(&out, out_len, &cap, piece, strlen(piece));
			append(&out, out_len, &cap, "]", 1);
		}
		else if (event == ARCHIVE_DATA)
			append(&out, out_len, &cap, piece, n);
		else if (event == ARCHIVE_MEMBER_END)
			append(&out, out_len, &cap, "[end]", 5);
		else if (event == ARCHIVE_NEED_INPUT)
		{
			if (fed == len)
				break;
			n = len - fed < step ? len - fed : step;
			archive_reader_feed(reader, data + fed, n);
			fed += n;
		}
	}
	*at_end = archive_reader_at_end(reader);
	archive_reader_destroy(reader);
	return out;
}

static void
test_archive(const char *path, const char *expected_path)
{
	size_t		len,
				expected_len,
				out_len,
				cut;
	char	   *data = read_file(path, &len);
	char	   *expected = read_file(expected_path, &expected_len);
	size_t		steps[] = {1, 3, 7, 512, 0};
	size_t		buffers[] = {1, 7, 65536};
	size_t		i,
				j;
	int			at_end,
				error,
				ok = 1;
	char	   *out;

	if (data == NULL || expected == NULL)
	{
		printf("FAILED: %s: cannot read it or what it holds\n", path);
		failed++;
		return;
	}
	steps[4] = len;
	for (i = 0; i < 5; i++)
		for (j = 0; j < 3; j++)
		{
			out = read_archive(data, len, steps[i], buffers[j], &out_len, &at_end, &error);
			ok &= !error && at_end && out_len == expected_len &&
				memcmp(out, expected, expected_len) == 0;
			free(out);
		}
	printf("%s: %s: whole, fed 1 to all bytes at a time, out 1 to 64k at a time\n",
		   ok ? "ok" : "FAILED", path);
	ok ? passed++ : failed++;

	ok = 1;
	for (cut = 1; cut < len; cut++)
	{
		out = read_archive(data, len - cut, 4096, 65536, &out_len, &at_end, &error);
		/* complete only if every member came out whole */
		ok &= error || !at_end ||
			(out_len == expected_len && memcmp(out, expected, expected_len) == 0);
		free(out);
	}
	printf("%s: %s: cut short at every length, never taken for whole\n",
		   ok ? "ok" : "FAILED", path);
	ok ? passed++ : failed++;

	/* a hostile archive: any byte changed; ASan and UBSan judge */
	for (cut = 0; cut < len; cut++)
	{
		char		saved = data[cut];

		data[cut] = (char) (saved ^ 0x5a);
		free(read_archive(data, len, 997, 4096, &out_len, &at_end, &error));
		data[cut] = saved;
	}
	printf("ok: %s: every byte changed, read without a fault\n", path);
	passed++;
	free(data);
	free(expected);
}

int
main(int argc, char **argv)
{
	int			i;

	for (i = 1; i + 1 < argc; i += 2)
		test_archive(argv[i], argv[i + 1]);
	printf("%d passed, %d failed\n", passed, failed);
	return failed > 0;
}
