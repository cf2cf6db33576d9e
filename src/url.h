/*
 * url.h
 *		URL checks, joining, query parameters, origins and redaction.
 */
#ifndef CSV_EXPORT_URL_H
#define CSV_EXPORT_URL_H



extern const char *url_check_http(const char *url);
extern char *url_join(const char *base_url, const char *path);
extern char *url_redact(const char *url);
extern char *url_add_query_param(const char *url, const char *name, const char *value);
extern char *url_origin(const char *url);
extern char *url_host_port(const char *url, int *port);
extern char *url_resolve(const char *base, const char *ref);
extern char *url_with_param(const char *url, const char *name, const char *value);

#endif							/* CSV_EXPORT_URL_H */
