/*
 * parse_thread_backend.h
 *		The backend's parsing thread, lent to one record stream at a time.
 */
#ifndef CSV_EXPORT_PARSE_THREAD_BACKEND_H
#define CSV_EXPORT_PARSE_THREAD_BACKEND_H

#include "parse_thread.h"

extern void parse_thread_define_guc(void);
extern ParseThread *parse_thread_borrow(void);
extern CsvReaderStatus parse_thread_finish(ParseThread *thread);
extern void parse_thread_settle(ParseThread *thread);
extern void parse_thread_give_back(ParseThread *thread);

#endif							/* CSV_EXPORT_PARSE_THREAD_BACKEND_H */
