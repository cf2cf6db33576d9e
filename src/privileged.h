/*
 * privileged.h
 *		Statements run as the extension's owner, restricted.
 */
#ifndef CSV_EXPORT_PRIVILEGED_H
#define CSV_EXPORT_PRIVILEGED_H



typedef struct OwnerSection
{
	Oid			saved_user;
	int			saved_context;
	int			guc_nest_level;
} OwnerSection;

extern void owner_section_begin(OwnerSection *section);
extern Datum owner_section_execute(const char *sql, int nargs, Oid *argtypes, Datum *values,
								   const char *nulls, bool *isnull);
extern void owner_section_end(OwnerSection *section);

#endif							/* CSV_EXPORT_PRIVILEGED_H */
