/*
 * fresh_memory.c
 *		What this machine charges for memory a process touches for the first
 *		time: milliseconds per 100 MB of a burst of each size given (MB),
 *		after a pause.  A sync writes its table, index and WAL into page
 *		cache, so where a large burst costs more per byte than a small one,
 *		time(4N) / time(N) of every statement that needs that much fresh
 *		memory (COPY too) rises above 4 for reasons no code of ours has.  A
 *		virtual machine whose host takes back the memory its guest frees
 *		behaves so; this one keeps about 1 GB of freed memory before it
 *		gives any back, so the bench's repeated runs, which free and take
 *		again about as much, pay it little (RESULTS.md).
 *
 *		fresh_memory 200 800
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static double
seconds_now(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec + now.tv_nsec / 1e9;
}

/* seconds to map and first touch megabytes of anonymous memory */
static double
touch_fresh(size_t megabytes)
{
	size_t		bytes = megabytes << 20;
	double		start = seconds_now();
	char	   *memory = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
							  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	double		elapsed;
	size_t		offset;

	if (memory == MAP_FAILED)
	{
		perror("mmap");
		exit(1);
	}
	for (offset = 0; offset < bytes; offset += 4096)
		memory[offset] = 1;
	elapsed = seconds_now() - start;
	munmap(memory, bytes);
	return elapsed;
}

static size_t
megabytes_argument(const char *arg)
{
	size_t		megabytes = strtoul(arg, NULL, 10);

	if (megabytes == 0)
	{
		fprintf(stderr, "not a size in MB: %s\n", arg);
		exit(2);
	}
	return megabytes;
}

int
main(int argc, char **argv)
{
	int			i;

	if (argc < 2)
	{
		fprintf(stderr, "usage: %s MEGABYTES...\n", argv[0]);
		return 2;
	}
	for (i = 1; i < argc; i++)
	{
		size_t		megabytes = megabytes_argument(argv[i]);

		/* as after a run: what was freed has had time to go back */
		sleep(5);
		printf("%zu MB: %.0f ms per 100 MB\n", megabytes,
			   touch_fresh(megabytes) * 1000 * 100 / megabytes);
	}
	return 0;
}
