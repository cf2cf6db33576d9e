/*
 * sync.c
 *		Small C helpers for the PL/pgSQL procedure csv_export.sync.
 *
 * PL/pgSQL cannot ask whether its CALL may commit, choose a log level at run
 * time, raise an error with an optional DETAIL and HINT and without its
 * own call stack, or limit how long a run takes; these functions do that
 * for it.
 */
#include "postgres.h"

#include <limits.h>

#include "access/xact.h"
#include "datatype/timestamp.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "storage/latch.h"
#include "tcop/dest.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/timeout.h"
#include "utils/timestamp.h"

#include "csv_export_fdw.h"

PG_FUNCTION_INFO_V1(csv_export_transaction_control_allowed);
PG_FUNCTION_INFO_V1(csv_export_report);
PG_FUNCTION_INFO_V1(csv_export_raise);
PG_FUNCTION_INFO_V1(csv_export_arm_run_timeout);
PG_FUNCTION_INFO_V1(csv_export_disarm_run_timeout);
PG_FUNCTION_INFO_V1(csv_export_run_timed_out);

/*
 * Whether the calling procedure may COMMIT: true for a CALL at top level
 * (or from pg_cron), false inside a transaction block or a function.  The
 * procedure's own SPI connection knows, since PL/pgSQL opens it non-atomic
 * exactly when transaction control is allowed.
 */
Datum
csv_export_transaction_control_allowed(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(SPI_inside_nonatomic_context());
}

/*
 * Progress messages go to the client as NOTICE when someone is there to
 * read them, and to the server log when the run is scheduled: pg_cron runs
 * jobs in background workers, or through connections of its own.  Where in
 * the procedure the message came from is of no interest to either.
 */
Datum
csv_export_report(PG_FUNCTION_ARGS)
{
	char	   *message = text_to_cstring(PG_GETARG_TEXT_PP(0));
	bool		scheduled = (MyBackendType == B_BG_WORKER ||
							 whereToSendOutput != DestRemote ||
							 strcmp(application_name, "pg_cron") == 0);
	ErrorContextCallback *saved_context = error_context_stack;

	error_context_stack = NULL;
	ereport(scheduled ? LOG : NOTICE,
			(errmsg_internal("csv_export.sync: %s", message)));
	error_context_stack = saved_context;
	PG_RETURN_VOID();
}

static char *
optional_text_arg(FunctionCallInfo fcinfo, int argno)
{
	return PG_ARGISNULL(argno) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(argno));
}

/*
 * The start of a message format, translated as lc_messages says, up to its
 * first conversion: what a context line made from it starts with.
 */
static char *
translated_prefix(const char *domain, const char *format)
{
	const char *translated = domain ? dgettext(domain, format) : _(format);

	return pnstrdup(translated, strcspn(translated, "%"));
}

/*
 * Whether a context line traces the procedure's own statements: written by
 * SPI ("SQL statement ...") or by PL/pgSQL ("PL/pgSQL function ..."), in
 * whatever language lc_messages chose.
 */
static bool
is_procedure_line(const char *line)
{
	static const char *const spi_formats[] = {
		"SQL statement \"%s\"",
		"PL/pgSQL expression \"%s\"",
		"PL/pgSQL assignment \"%s\"",
	};
	static const char *const plpgsql_formats[] = {
		"PL/pgSQL function %s line %d at %s",
		"PL/pgSQL function %s line %d %s",
		"PL/pgSQL function %s %s",
		"PL/pgSQL function %s",
	};
	size_t		i;

	for (i = 0; i < lengthof(spi_formats); i++)
	{
		char	   *prefix = translated_prefix(NULL, spi_formats[i]);

		if (prefix[0] && strncmp(line, prefix, strlen(prefix)) == 0)
			return true;
	}
	for (i = 0; i < lengthof(plpgsql_formats); i++)
	{
		char	   *prefix = translated_prefix(PG_TEXTDOMAIN("plpgsql"), plpgsql_formats[i]);

		if (prefix[0] && strncmp(line, prefix, strlen(prefix)) == 0)
			return true;
	}
	return false;
}

/*
 * The lines of an error context that say where in the data it happened,
 * without the lines that only trace the procedure's own statements (those
 * come after, outermost last).
 */
static char *
data_context(const char *context)
{
	StringInfoData kept;
	const char *line = context;

	initStringInfo(&kept);
	while (line && *line)
	{
		const char *end = strchr(line, '\n');
		int			len = end ? (int) (end - line) : (int) strlen(line);
		char	   *text = pnstrdup(line, len);

		if (is_procedure_line(text))
			break;
		appendStringInfo(&kept, "%s%s", kept.len ? "\n" : "", text);
		line = end ? end + 1 : NULL;
	}
	return kept.len ? kept.data : NULL;
}

/*
 * Raise an error made of exactly these parts: SQLSTATE, message, optional
 * detail and hint, the data lines of an optional context, and a line naming
 * the sync.  csv_export.sync uses it to raise a caught error again as it was
 * first raised, and to raise its own errors, without PL/pgSQL's call stack.
 */
Datum
csv_export_raise(PG_FUNCTION_ARGS)
{
	char	   *sqlstate = optional_text_arg(fcinfo, 0);
	char	   *message = optional_text_arg(fcinfo, 1);
	char	   *detail = optional_text_arg(fcinfo, 2);
	char	   *hint = optional_text_arg(fcinfo, 3);
	char	   *context = optional_text_arg(fcinfo, 4);
	char	   *sync_name = optional_text_arg(fcinfo, 5);
	int			code = ERRCODE_INTERNAL_ERROR;

	if (sqlstate == NULL || message == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("csv_export._raise needs a SQLSTATE and a message")));
	if (strlen(sqlstate) == 5)
		code = MAKE_SQLSTATE(sqlstate[0], sqlstate[1], sqlstate[2],
							 sqlstate[3], sqlstate[4]);
	context = context ? data_context(context) : NULL;

	error_context_stack = NULL;
	ereport(ERROR,
			(errcode(code),
			 errmsg_internal("%s", message),
			 detail ? errdetail_internal("%s", detail) : 0,
			 hint ? errhint("%s", hint) : 0,
			 context ? errcontext("%s", context) : 0,
			 sync_name ? errcontext("%s", sync_name) : 0));
	PG_RETURN_VOID();
}

/*
 * A run's time limit (csv_export.sync's timeout).  statement_timeout cannot
 * serve: it is armed when a statement starts, and a CALL is one statement
 * however many transactions it commits.  This is a timeout of its own that,
 * when it fires, asks for a query cancel, which the next
 * CHECK_FOR_INTERRUPTS (in an HTTP wait, a lock wait, a scan) turns into
 * an ERROR (57014) for the procedure to record.  It never outlives the
 * transaction it was armed in.
 */
static TimeoutId run_timeout = MAX_TIMEOUTS;	/* not registered yet */
static bool run_timeout_armed = false;
static volatile sig_atomic_t run_timed_out = false;

/* in the signal handler: flags only */
static void
run_timeout_fired(void)
{
	run_timed_out = true;
	QueryCancelPending = true;
	InterruptPending = true;
	SetLatch(MyLatch);
}

static void
stop_run_timeout(void)
{
	if (run_timeout_armed)
		disable_timeout(run_timeout, false);
	run_timeout_armed = false;
}

static void
run_timeout_xact_callback(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT ||
		event == XACT_EVENT_PREPARE || event == XACT_EVENT_PARALLEL_COMMIT ||
		event == XACT_EVENT_PARALLEL_ABORT)
		stop_run_timeout();
}

/* interval -> milliseconds, a month counted as 30 days as everywhere else */
static int64
interval_ms(const Interval *span)
{
	return (((int64) span->month * DAYS_PER_MONTH + span->day) * SECS_PER_DAY) * 1000 +
		span->time / 1000;
}

/* _arm_run_timeout(timeout interval): the limit from now on, NULL for none */
Datum
csv_export_arm_run_timeout(PG_FUNCTION_ARGS)
{
	int64		ms;

	stop_run_timeout();
	run_timed_out = false;
	if (PG_ARGISNULL(0))
		PG_RETURN_VOID();
	ms = interval_ms(PG_GETARG_INTERVAL_P(0));
	if (ms <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("timeout must be positive")));
	if (run_timeout == MAX_TIMEOUTS)
	{
		run_timeout = RegisterTimeout(USER_TIMEOUT, run_timeout_fired);
		RegisterXactCallback(run_timeout_xact_callback, NULL);
	}
	enable_timeout_after(run_timeout, (int) Min(ms, INT_MAX));
	run_timeout_armed = true;
	PG_RETURN_VOID();
}

/*
 * _disarm_run_timeout(): the run is over.  A cancel the limit asked for
 * that has not yet been acted on would fail whatever the session runs
 * next: it is taken back.
 */
Datum
csv_export_disarm_run_timeout(PG_FUNCTION_ARGS)
{
	stop_run_timeout();
	if (run_timed_out)
		QueryCancelPending = false;
	PG_RETURN_VOID();
}

/* _run_timed_out(): whether the limit fired since it was armed */
Datum
csv_export_run_timed_out(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(run_timed_out);
}
