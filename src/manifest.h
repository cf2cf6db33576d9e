/*
 * manifest.h
 *		An export listed by a JSON manifest: the URLs of its files.
 */
#ifndef CSV_EXPORT_MANIFEST_H
#define CSV_EXPORT_MANIFEST_H

#include "http.h"

extern List *manifest_file_urls(HttpTransfer *transfer, const char *display_url,
								const char *json_path);

#endif							/* CSV_EXPORT_MANIFEST_H */
