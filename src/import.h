/*
 * import.h
 *		IMPORT FOREIGN SCHEMA.
 */
#ifndef CSV_EXPORT_IMPORT_H
#define CSV_EXPORT_IMPORT_H

#include "foreign/foreign.h"
#include "nodes/parsenodes.h"

extern List *csv_export_import_schema(ImportForeignSchemaStmt *stmt, ForeignServer *server);

#endif							/* CSV_EXPORT_IMPORT_H */
