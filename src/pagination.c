/*
 * pagination.c
 *		Where the next page of a paged export is.
 *
 * Modes (table option pagination): 'link' follows the Link header's
 * rel="next" (RFC 8288), 'page' counts a page-number parameter up, 'offset'
 * moves an offset parameter by page_size, 'cursor' sends back the token a
 * response header gave.  Each mode also says when the export has ended.
 * This knows URLs and headers, not CSV; record_stream.c asks it after each
 * page.
 */
#include "postgres.h"

#include <ctype.h>

#include "csv_export_fdw.h"
#include "http.h"
#include "option.h"
#include "pagination.h"
#include "url.h"

/*
 * The URL of the rel="next" link in a Link header value such as
 * '<https://api/x?page=2>; rel="next", <...>; rel="prev"', or NULL.
 */
static char *
link_next(const char *links)
{
	const char *link = links;

	while (link && (link = strchr(link, '<')) != NULL)
	{
		const char *end = strchr(link, '>');
		const char *params;
		size_t		params_len;
		char	   *rel;
		char	   *c;

		if (end == NULL)
			return NULL;
		params = end + 1;
		params_len = strcspn(params, "<");	/* up to the next link */
		rel = pnstrdup(params, params_len);
		for (c = rel; *c; c++)
			*c = pg_ascii_tolower((unsigned char) *c);
		/* rel="next", rel=next, or "next" among several relation types */
		if (strstr(rel, "rel=next") || strstr(rel, "rel=\"next\"") ||
			(strstr(rel, "rel=\"") && strstr(rel, " next")))
			return pnstrdup(link + 1, end - link - 1);
		link = end + 1;
	}
	return NULL;
}

/*
 * The URL of page number page + 1, given the page just read: page (1-based),
 * the URL of the first page, the transfer that fetched it (for its headers
 * and URL), and how many data records it held.  NULL at the end of the export.
 */
char *
pagination_next_url(const CsvExportOptions *options, int page, const char *first_url,
					const HttpTransfer *transfer, uint64 records)
{
	const PaginationOptions *p = &options->pagination;
	char	   *value;

	switch (p->mode)
	{
		case PAGINATION_NONE:
			return NULL;
		case PAGINATION_LINK:
			value = http_transfer_header(transfer, "Link");
			value = value ? link_next(value) : NULL;
			return value ? url_resolve(http_transfer_url(transfer), value) : NULL;
		case PAGINATION_PAGE:
			if (records == 0)
				return NULL;
			return url_with_param(first_url, p->page_param,
								  psprintf(INT64_FORMAT, p->page_start + page));
		case PAGINATION_OFFSET:
			if (records < (uint64) p->page_size)
				return NULL;
			return url_with_param(first_url, p->offset_param,
								  psprintf(INT64_FORMAT, (int64) page * p->page_size));
		case PAGINATION_CURSOR:
			value = http_transfer_header(transfer, p->cursor_header);
			if (value == NULL || value[0] == '\0')
				return NULL;
			return url_with_param(first_url, p->cursor_param, value);
	}
	return NULL;
}

/* The URL of the first page: with the page size or first page number set. */
char *
pagination_first_url(const CsvExportOptions *options, const char *url)
{
	const PaginationOptions *p = &options->pagination;

	switch (p->mode)
	{
		case PAGINATION_PAGE:
			url = url_with_param(url, p->page_param, psprintf(INT64_FORMAT, p->page_start));
			if (p->page_size_param)
				url = url_with_param(url, p->page_size_param,
									 psprintf(INT64_FORMAT, p->page_size));
			break;
		case PAGINATION_OFFSET:
			url = url_with_param(url, p->offset_param, "0");
			url = url_with_param(url, p->limit_param, psprintf(INT64_FORMAT, p->page_size));
			break;
		default:
			break;
	}
	return (char *) url;
}

const char *
pagination_mode_name(PaginationMode mode)
{
	switch (mode)
	{
		case PAGINATION_NONE:
			return "none";
		case PAGINATION_LINK:
			return "link";
		case PAGINATION_PAGE:
			return "page";
		case PAGINATION_OFFSET:
			return "offset";
		case PAGINATION_CURSOR:
			return "cursor";
	}
	return "none";
}
