/*
 * import.h
 *		IMPORT FOREIGN SCHEMA.
 */
#ifndef CSV_EXPORT_IMPORT_H
#define CSV_EXPORT_IMPORT_H

#include "foreign/foreign.h"
#include "nodes/parsenodes.h"

#include "option.h"

/* a column of an export, as IMPORT FOREIGN SCHEMA would define it */
typedef struct ExportColumn
{
	char	   *header_name;	/* as in the header, in the database encoding */
	char	   *name;			/* of the table column */
	const char *type;			/* inferred from IMPORT's sample */
} ExportColumn;

extern List *csv_export_import_schema(ImportForeignSchemaStmt *stmt, ForeignServer *server);
extern ExportColumn *import_export_columns(const CsvExportOptions *options,
										   bool normalize_names, int *ncolumns);

#endif							/* CSV_EXPORT_IMPORT_H */
