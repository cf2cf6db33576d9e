/*
 * manifest.c
 *		An export delivered as a manifest: a JSON document (often the result
 *		of an export job) that lists the URLs of the files that make up the
 *		export.  The table option manifest is a JSON path (PostgreSQL's
 *		jsonpath, e.g. '$.files[*].url') that finds them.
 *
 * The manifest is read whole (it is small; MAX_MANIFEST_BYTES bounds it),
 * then the files are read in order as the pages of one export
 * (record_stream.c).  URLs may be relative to the manifest's.
 */
#include "postgres.h"

#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/jsonb.h"
#include "utils/jsonpath.h"

#include "csv_export_fdw.h"
#include "http.h"
#include "manifest.h"
#include "url.h"

/* a manifest lists files: more than this is no manifest */
#define MAX_MANIFEST_BYTES	(16 * 1024 * 1024)

/* The body of transfer, whole; an ERROR beyond MAX_MANIFEST_BYTES. */
static char *
read_whole_body(HttpTransfer *transfer, const char *display_url)
{
	StringInfoData body;
	const char *data;
	size_t		len;

	initStringInfo(&body);
	for (;;)
	{
		HttpReadResult result = http_transfer_read(transfer, true, &data, &len);

		if (result == HTTP_READ_RESTARTED)
		{
			resetStringInfo(&body);
			continue;
		}
		if (result != HTTP_READ_DATA)
			break;
		if (body.len + len > MAX_MANIFEST_BYTES)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("manifest at \"%s\" is larger than %d bytes",
							display_url, MAX_MANIFEST_BYTES)));
		appendBinaryStringInfo(&body, data, len);
	}
	if (pg_encoding_verifymbstr(GetDatabaseEncoding(), body.data, body.len) != body.len)
		ereport(ERROR,
				(errcode(ERRCODE_CHARACTER_NOT_IN_REPERTOIRE),
				 errmsg("manifest at \"%s\" is not valid text in the database encoding",
						display_url)));
	return body.data;
}

/* the strings that json_path finds in the JSON text body */
static List *
find_strings(const char *body, const char *json_path, const char *display_url)
{
	Datum		document = DirectFunctionCall1(jsonb_in, CStringGetDatum(body));
	Datum		path = DirectFunctionCall1(jsonpath_in, CStringGetDatum(json_path));
	Datum		no_vars = DirectFunctionCall1(jsonb_in, CStringGetDatum("{}"));
	Jsonb	   *found = DatumGetJsonbP(DirectFunctionCall4(jsonb_path_query_array, document,
														   path, no_vars,
														   BoolGetDatum(false)));
	JsonbIterator *it = JsonbIteratorInit(&found->root);
	JsonbValue	value;
	JsonbIteratorToken token;
	List	   *strings = NIL;

	while ((token = JsonbIteratorNext(&it, &value, true)) != WJB_DONE)
	{
		if (token != WJB_ELEM)
			continue;
		if (value.type != jbvString)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("manifest at \"%s\": item %d that %s finds is not a string",
							display_url, list_length(strings) + 1, json_path),
					 errhint("The JSON path must lead to the files' URLs, e.g. '$.files[*].url'.")));
		strings = lappend(strings, pnstrdup(value.val.string.val, value.val.string.len));
	}
	return strings;
}

/*
 * The URLs of the files the manifest fetched by transfer lists, absolute;
 * an ERROR if it lists none.
 */
List *
manifest_file_urls(HttpTransfer *transfer, const char *display_url, const char *json_path)
{
	char	   *body = read_whole_body(transfer, display_url);
	List	   *urls = NIL;
	ListCell   *lc;

	foreach(lc, find_strings(body, json_path, display_url))
	{
		/* relative to where the manifest was, after redirects */
		char	   *file_url = url_resolve(http_transfer_url(transfer), lfirst(lc));
		const char *problem = file_url ? url_check_http(file_url) : "It is not a URL.";

		if (problem)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
					 errmsg("manifest at \"%s\" lists \"%s\", which cannot be fetched",
							display_url, url_redact(lfirst(lc))),
					 errdetail("%s", problem)));
		urls = lappend(urls, file_url);
	}
	if (urls == NIL)
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("manifest at \"%s\" lists no files", display_url),
				 errdetail("The JSON path %s finds nothing in it.", json_path)));
	return urls;
}
