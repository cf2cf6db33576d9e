/*
 * sync_match.c
 *		csv_export._sync_match(target, row): where one export row stands
 *		against the sync target, so that a full sync's MERGE sees only the
 *		rows it has to write.
 *
 * The answer is NULL when the row's key is not in the target (MERGE inserts
 * the row), the target row's ctid when some column differs (MERGE updates it
 * through a TID join, without looking the key up again), and '(0,0)', never
 * a valid ctid, when the target row already holds these values: MERGE never
 * sees such a row, so an unchanged export writes and locks nothing.  A
 * caller that checks the key of the row a ctid leads to (1.7's MERGE joins
 * on ctid and key) may get the ctid of a row found only by the hash of its
 * key, which a row of another key could share.
 *
 * A key is found by walking along the target's primary key while the
 * export's keys ascend, by a descent into it otherwise, and, once keys in
 * no particular order have outnumbered the target's pages, in a hash map of
 * the target read in one pass (see read_target_map): an empty target, the
 * first run of every sync, is never looked up at all.  The target row is
 * then fetched to compare its values with the export row's, except where
 * the map's fingerprint of its values says they are the same (see
 * fingerprint_values).
 *
 * MERGE cannot apply two rows with the same key in export order, and the
 * export is then staged instead.  A new key that comes again fails the
 * primary key's unique check (csv_export.sync catches that); a key found
 * in the target raises cardinality_violation the second time it is found.
 * Found keys are remembered by hash, within maintenance_work_mem, or
 * marked in the target's hash map, unless they ascend (see
 * remember_found_key); a key that cannot be checked raises
 * cardinality_violation too.  A caller of the two-argument form, which
 * does not catch the unique check's error, has every key remembered.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/nbtree.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "common/pg_prng.h"
#include "lib/ilist.h"
#include "executor/tuptable.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/resowner.h"
#include "utils/rls.h"
#include "utils/snapmgr.h"
#include "utils/typcache.h"

#include "compat.h"

PG_FUNCTION_INFO_V1(csv_export_sync_match);
PG_FUNCTION_INFO_V1(csv_export_direct_merge_possible);
PG_FUNCTION_INFO_V1(csv_export_sync_match_rows);

/* one column of the export row compared with the target's */
typedef struct MatchedColumn
{
	int			source_index;	/* in the export row, from 0 */
	AttrNumber	target_attno;
	bool		typbyval;
	int16		typlen;
} MatchedColumn;

/* one column of the target's primary key */
typedef struct KeyColumn
{
	int			source_index;
	AttrNumber	target_attno;
	FmgrInfo	order;			/* btree comparison, for the ascending check */
	FmgrInfo	hash;			/* extended hash; fn_oid InvalidOid if none */
	Oid			collation;
	bool		typbyval;
	int16		typlen;
} KeyColumn;

/*
 * A slot of the target map: the tid of the row version the statement sees,
 * under the hash of its key.  Hash, tid and mark share one slot (16 bytes)
 * so that a probe of a map larger than the CPU's caches misses them once,
 * not once for each of three arrays.
 */
typedef struct MapSlot
{
	uint64		hash;			/* first: a slot begins as a set's does */
	ItemPointerData tid;
	bool		found;			/* an export row had this key (see
								 * remember_found_key) */
} MapSlot;

/*
 * A map slot with a fingerprint of the row's compared values (see
 * fingerprint_values), where maintenance_work_mem has room for it: an
 * export row with the same fingerprint is unchanged without a fetch of the
 * target row, which, for keys in no particular order, is a random page of
 * a heap that outgrows the CPU's caches.
 */
typedef struct FingerprintedSlot
{
	MapSlot		slot;
	uint64		values_fingerprint;
} FingerprintedSlot;

/*
 * 64-bit key hashes, open addressing, 0 marking an empty slot, growing
 * within maintenance_work_mem.  Two uses: the export's keys seen so far (a
 * set: a slot is the hash alone), and the target's rows read in one pass
 * when that costs less than looking keys up in its index (see
 * read_target_map): a slot is a FingerprintedSlot, or a MapSlot once the
 * fingerprints would not fit.
 */
typedef struct KeyHashTable
{
	char	   *slots;
	Size		slot_size;		/* sizeof(uint64), of a FingerprintedSlot or
								 * of a MapSlot */
	uint64		capacity;		/* a power of two */
	uint64		used;
} KeyHashTable;

/* how a lookup that found the export row's key knows the target row */
typedef enum FoundRow
{
	FOUND_FETCHED,				/* in match->found, to be compared */
	FOUND_UNCHANGED,			/* by its fingerprint, not fetched */
	FOUND_CHANGED				/* by its fingerprint, not fetched: its key is
								 * left to the caller to check */
} FoundRow;

typedef struct SyncMatch
{
	/*
	 * What the state was made for: a call for another target, row type or
	 * statement makes a new one.  A statement is told by its snapshot,
	 * which the lookups use: the same copy, command and completed
	 * transactions.
	 */
	Oid			target_oid;
	Oid			row_type;
	int32		row_typmod;
	Snapshot	statement_snapshot;
	CommandId	statement_cid;
	uint64		statement_completions;

	/*
	 * The state lives in a memory context of its own below the call site's,
	 * and its relations, snapshot and buffer pins belong to a resource owner
	 * of its own below the transaction's: a call site can outlive the
	 * statement or subtransaction it was first called in (a PL/pgSQL
	 * expression does), and what a subtransaction's commit or abort
	 * releases must not be anything the state still uses.
	 */
	MemoryContext context;
	ResourceOwner owner;
	dlist_node	live_node;		/* in live_matches until released */
	bool		released;

	Relation	target;
	Relation	primary_key;
	Snapshot	snapshot;
	IndexScanDesc scan;
	ScanKey		point_keys;		/* = on every key column */
	ScanKey		walk_keys;		/* >= on the key column, where it walks */
	TupleTableSlot *found;		/* the target row under the scan */
	bool		walk;			/* one returnable key column: move along the index */
	bool		walking;		/* the scan was started with walk_keys */
	int			rows_until_walk;	/* else, rows before trying that again */
	bool		on_entry;		/* the scan has not run past its last entry */
	TupleDesc	source_desc;
	Datum	   *values;
	bool	   *nulls;
	int			nkeys;
	KeyColumn  *keys;
	Datum	   *key_values;		/* scratch: one key's values, in key order */
	int			ncolumns;
	MatchedColumn *columns;
	MemoryContext scan_key_context;
	MemoryContext last_key_context;
	Datum	   *last_key;		/* NULL before the first row */
	bool		ascending;
	bool		remember_new_keys;	/* else only keys found in the target */
	bool		caller_checks_keys; /* of the rows the answers' ctids lead to */
	KeyHashTable *seen;			/* NULL when keys are not remembered */
	bool		seen_possible;	/* every key type has an extended hash */
	bool		keys_forgotten; /* keys were remembered, then no longer */
	BlockNumber target_blocks;	/* the target's size when the state was made */
	KeyHashTable *target_map;	/* NULL until the target is read into one */
	bool		target_map_tried;
	uint64		found_slot;		/* of the export row's key in the target map */
	uint64		fingerprint_seed;	/* new for each state (see
									 * fingerprint_values) */
	uint64		row_hash;		/* of the export row's key; 0 until computed */
	FoundRow	found_row;		/* how find_target_row knows the row it found */
} SyncMatch;

/* this many ascending keys from the start say the export is in key order */
#define KEY_ORDER_EVIDENCE 65536

/*
 * further than this many smaller keys along the index, a descent from the
 * root is cheaper (a step compares keys in the index page; the heap is read
 * only for an entry with the export row's key)
 */
#define MAX_WALK_STEPS 16

/* rows the last _sync_match looked at, for csv_export.sync's counts */
static int64 rows_matched = 0;

/* states not yet released, for the end of the transaction */
static dlist_head live_matches = DLIST_STATIC_INIT(live_matches);

static KeyHashTable *
key_table_create(bool is_map)
{
	KeyHashTable *table = palloc0(sizeof(KeyHashTable));

	table->slot_size = is_map ? sizeof(FingerprintedSlot) : sizeof(uint64);
	return table;
}

static void
key_table_free(KeyHashTable *table)
{
	if (table->slots)
		pfree(table->slots);
	pfree(table);
}

/* the hash in slot i, 0 if it is empty */
static inline uint64
slot_hash(const KeyHashTable *table, uint64 i)
{
	return *(const uint64 *) (table->slots + i * table->slot_size);
}

static inline MapSlot *
map_slot(const KeyHashTable *table, uint64 i)
{
	Assert(table->slot_size >= sizeof(MapSlot));
	return (MapSlot *) (table->slots + i * table->slot_size);
}

static inline bool
map_has_fingerprints(const KeyHashTable *table)
{
	return table->slot_size == sizeof(FingerprintedSlot);
}

static inline FingerprintedSlot *
fingerprinted_slot(const KeyHashTable *table, uint64 i)
{
	Assert(map_has_fingerprints(table));
	return (FingerprintedSlot *) (table->slots + i * sizeof(FingerprintedSlot));
}

/* the first empty slot from the hash's own, now counted as used; room is there */
static uint64
key_table_place(KeyHashTable *table, uint64 hash)
{
	uint64		mask = table->capacity - 1;
	uint64		i;

	for (i = hash & mask; slot_hash(table, i) != 0; i = (i + 1) & mask)
		;
	table->used++;
	return i;
}

/* what a KeyHashTable may take, in bytes */
static uint64
key_table_memory_limit(void)
{
	return (uint64) maintenance_work_mem * 1024;
}

/*
 * The table at new_capacity slots, its entries moved there: false, and the
 * table as it was, if that would take more than maintenance_work_mem.  A
 * map whose fingerprints would not fit gives them up first: without them
 * it still spares the lookups in the index.
 */
static bool
key_table_resize(KeyHashTable *table, uint64 new_capacity)
{
	KeyHashTable old = *table;
	uint64		limit = key_table_memory_limit();
	Size		size;
	uint64		i;

	if (map_has_fingerprints(table) && new_capacity * table->slot_size > limit)
		table->slot_size = sizeof(MapSlot);
	size = new_capacity * table->slot_size;
	if (size > limit)
	{
		table->slot_size = old.slot_size;
		return false;
	}
	table->slots = MemoryContextAllocHuge(GetMemoryChunkContext(table), size);
	memset(table->slots, 0, size);
	table->capacity = new_capacity;
	table->used = 0;
	/* a slot keeps what the new size has room for: all, or all but the fingerprint */
	for (i = 0; i < old.capacity; i++)
		if (slot_hash(&old, i) != 0)
			memcpy(table->slots + key_table_place(table, slot_hash(&old, i)) * table->slot_size,
				   old.slots + i * old.slot_size, table->slot_size);
	if (old.slots)
		pfree(old.slots);
	return true;
}

/* room for one more entry, at most half the slots used */
static bool
key_table_reserve(KeyHashTable *table)
{
	if (table->used * 2 < table->capacity)
		return true;
	return key_table_resize(table, table->capacity ? table->capacity * 2 : 1024);
}

/*
 * Room from the start for about as many entries as the target is expected
 * to have, so that a map larger than the CPU's caches is not moved, slot by
 * slot to random places, at each doubling.  Where that would not fit, the
 * table grows as far as it can instead.
 */
static void
key_table_presize(KeyHashTable *table, double expected_entries)
{
	uint64		capacity = 1024;

	Assert(table->capacity == 0);
	while (capacity < 2 * expected_entries &&
		   capacity * sizeof(MapSlot) <= key_table_memory_limit())
		capacity *= 2;
	(void) key_table_resize(table, capacity);
}

/* the state is done with: it serves no call and is no longer live */
static void
forget_match(SyncMatch *match)
{
	match->released = true;
	dlist_delete(&match->live_node);
}

/*
 * Close what the state opened and drop its resource owner; locks stay with
 * the transaction, as a query's do.  In a failing transaction the owner
 * just lets go of what it holds.
 */
static void
sync_match_release(SyncMatch *match)
{
	ResourceOwner saved_owner = CurrentResourceOwner;
	bool		closing = IsTransactionState();

	if (match->released)
		return;
	forget_match(match);
	if (closing)
	{
		CurrentResourceOwner = match->owner;
		if (match->scan)
			index_endscan(match->scan);
		if (match->found)
			ExecDropSingleTupleTableSlot(match->found);
		if (match->snapshot)
			UnregisterSnapshotFromOwner(match->snapshot, match->owner);
		if (match->primary_key)
			index_close(match->primary_key, NoLock);
		if (match->target)
			table_close(match->target, NoLock);
		CurrentResourceOwner = saved_owner;
	}
	ResourceOwnerRelease(match->owner, RESOURCE_RELEASE_BEFORE_LOCKS, closing, false);
	ResourceOwnerRelease(match->owner, RESOURCE_RELEASE_LOCKS, closing, false);
	ResourceOwnerRelease(match->owner, RESOURCE_RELEASE_AFTER_LOCKS, closing, false);
	ResourceOwnerDelete(match->owner);
}

/* the state's memory goes: with its call site, or for a new state */
static void
sync_match_context_reset(void *arg)
{
	sync_match_release((SyncMatch *) arg);
}

/*
 * A state still open when its transaction commits (its call site lives as
 * long as the transaction) is closed before the transaction's resource
 * owners check for leaks; an aborting transaction's owners release what
 * the states hold, and they are only forgotten.
 */
static void
sync_match_xact_callback(XactEvent event, void *arg)
{
	dlist_mutable_iter iter;

	dlist_foreach_modify(iter, &live_matches)
	{
		SyncMatch  *match = dlist_container(SyncMatch, live_node, iter.cur);

		switch (event)
		{
			case XACT_EVENT_PRE_COMMIT:
			case XACT_EVENT_PARALLEL_PRE_COMMIT:
			case XACT_EVENT_PRE_PREPARE:
				sync_match_release(match);
				break;
			case XACT_EVENT_ABORT:
			case XACT_EVENT_PARALLEL_ABORT:
				forget_match(match);
				break;
			default:
				break;
		}
	}
}

/*
 * What the direct MERGE needs of its target, in one place: csv_export.sync
 * asks (csv_export._direct_merge_possible) to choose between it and
 * staging, and _sync_match refuses a target without it, whoever calls.
 * A partitioned table has no single primary key index to look keys up in;
 * under row-level security the lookups would see rows the policies hide.
 */
static bool
is_plain_table(Oid relid)
{
	return get_rel_relkind(relid) == RELKIND_RELATION;
}

static bool
under_row_security(Oid relid)
{
	return check_enable_rls(relid, InvalidOid, false) == RLS_ENABLED;
}

/*
 * A primary key checked row by row.  A deferrable one is not: the direct
 * MERGE counts on its unique check to catch a new key the export repeats
 * (see remember_found_key), and PostgreSQL names no deferrable index the
 * table's primary key (RelationGetPrimaryKeyIndex).
 */
static bool
has_immediate_primary_key(Oid relid)
{
	Relation	rel = table_open(relid, AccessShareLock);
	bool		found = OidIsValid(compat_primary_key_index(rel));

	/* the lock stays, as the MERGE's own would */
	table_close(rel, NoLock);
	return found;
}

/* csv_export._direct_merge_possible(target) */
Datum
csv_export_direct_merge_possible(PG_FUNCTION_ARGS)
{
	Oid			relid;

	/* declared STRICT; NULL-safe also if it is called some other way */
	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	relid = PG_GETARG_OID(0);
	PG_RETURN_BOOL(is_plain_table(relid) && !under_row_security(relid) &&
				   has_immediate_primary_key(relid));
}

/*
 * Before any lock is taken: a role that may read no column of the target
 * learns nothing from it, not even whether a lock on it is free.
 */
static void
require_any_select_privilege(Oid target_oid)
{
	Oid			user = GetUserId();
	char	   *name;

	if (pg_class_aclcheck(target_oid, user, ACL_SELECT) == ACLCHECK_OK ||
		pg_attribute_aclcheck_all(target_oid, user, ACL_SELECT, ACLMASK_ANY) == ACLCHECK_OK)
		return;
	name = get_rel_name(target_oid);
	aclcheck_error(ACLCHECK_NO_PRIV, OBJECT_TABLE, name ? name : "?");
}

static void
require_select_privilege(SyncMatch *match)
{
	Relation	target = match->target;
	Oid			relid = RelationGetRelid(target);
	int			i;

	if (under_row_security(relid))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("csv_export._sync_match cannot read \"%s\" under row-level security",
						RelationGetRelationName(target))));
	if (pg_class_aclcheck(relid, GetUserId(), ACL_SELECT) == ACLCHECK_OK)
		return;
	for (i = 0; i < match->ncolumns; i++)
		if (pg_attribute_aclcheck(relid, match->columns[i].target_attno,
								  GetUserId(), ACL_SELECT) != ACLCHECK_OK)
			aclcheck_error(ACLCHECK_NO_PRIV, OBJECT_TABLE,
						   RelationGetRelationName(target));
}

static int
source_index_of(TupleDesc source_desc, const char *name)
{
	int			i;

	for (i = 0; i < source_desc->natts; i++)
	{
		Form_pg_attribute attr = TupleDescAttr(source_desc, i);

		if (!attr->attisdropped && strcmp(NameStr(attr->attname), name) == 0)
			return i;
	}
	return -1;
}

/* every export column that the target has too */
static void
match_columns(SyncMatch *match)
{
	TupleDesc	target_desc = RelationGetDescr(match->target);
	TupleDesc	source_desc = match->source_desc;
	int			i;

	match->columns = palloc0(sizeof(MatchedColumn) * source_desc->natts);
	for (i = 0; i < source_desc->natts; i++)
	{
		Form_pg_attribute source_attr = TupleDescAttr(source_desc, i);
		AttrNumber	attno = get_attnum(RelationGetRelid(match->target),
									   NameStr(source_attr->attname));
		Form_pg_attribute target_attr;
		MatchedColumn *column;

		if (source_attr->attisdropped || attno <= 0)
			continue;
		target_attr = TupleDescAttr(target_desc, attno - 1);
		if (target_attr->atttypid != source_attr->atttypid)
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("column \"%s\" of the export row has type %s, not the target's %s",
							NameStr(source_attr->attname),
							format_type_be(source_attr->atttypid),
							format_type_be(target_attr->atttypid))));
		column = &match->columns[match->ncolumns++];
		column->source_index = i;
		column->target_attno = attno;
		column->typbyval = target_attr->attbyval;
		column->typlen = target_attr->attlen;
	}
}

/* a btree scan key on index column attno, its argument set per row */
static void
init_scan_key(ScanKey scan_key, Relation index, int attno, StrategyNumber strategy)
{
	Oid			opcintype = index->rd_opcintype[attno - 1];
	Oid			scan_op = get_opfamily_member(index->rd_opfamily[attno - 1],
											  opcintype, opcintype, strategy);

	if (!OidIsValid(scan_op))
		elog(ERROR, "no btree operator %d for column %d of index \"%s\"",
			 strategy, attno, RelationGetRelationName(index));
	ScanKeyEntryInitialize(scan_key, 0, attno, strategy, opcintype,
						   index->rd_indcollation[attno - 1], get_opcode(scan_op),
						   (Datum) 0);
}

/* the primary key's columns, found in the export row by name */
static void
match_key(SyncMatch *match)
{
	Relation	index = match->primary_key;
	int			nkeys = IndexRelationGetNumberOfKeyAttributes(index);
	int			i;

	match->nkeys = nkeys;
	match->walk = (nkeys == 1 && index_can_return(index, 1));
	match->keys = palloc0(sizeof(KeyColumn) * nkeys);
	match->key_values = palloc0(sizeof(Datum) * nkeys);
	match->point_keys = palloc0(sizeof(ScanKeyData) * nkeys);
	match->seen_possible = true;
	for (i = 0; i < nkeys; i++)
	{
		AttrNumber	attno = index->rd_index->indkey.values[i];
		Form_pg_attribute attr = TupleDescAttr(RelationGetDescr(match->target), attno - 1);
		KeyColumn  *key = &match->keys[i];
		TypeCacheEntry *type;

		key->target_attno = attno;
		key->source_index = source_index_of(match->source_desc, NameStr(attr->attname));
		if (key->source_index < 0)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("the export row lacks key column \"%s\"", NameStr(attr->attname))));
		key->collation = index->rd_indcollation[i];
		key->typbyval = attr->attbyval;
		key->typlen = attr->attlen;
		fmgr_info_copy(&key->order, index_getprocinfo(index, i + 1, BTORDER_PROC),
					   CurrentMemoryContext);
		type = lookup_type_cache(attr->atttypid, TYPECACHE_HASH_EXTENDED_PROC_FINFO);
		if (OidIsValid(type->hash_extended_proc))
			fmgr_info_copy(&key->hash, &type->hash_extended_proc_finfo, CurrentMemoryContext);
		else
			match->seen_possible = false;
		init_scan_key(&match->point_keys[i], index, i + 1, BTEqualStrategyNumber);
	}
	if (match->walk)
	{
		match->walk_keys = palloc0(sizeof(ScanKeyData));
		init_scan_key(match->walk_keys, index, 1, BTGreaterEqualStrategyNumber);
	}
}

/* the target, its primary key, and which export columns match theirs */
static void
open_target(SyncMatch *match, HeapTupleHeader row)
{
	Oid			key_oid;

	match->target = table_open(match->target_oid, AccessShareLock);
	if (!is_plain_table(match->target_oid))
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("csv_export._sync_match needs a plain table, not \"%s\"",
						RelationGetRelationName(match->target))));
	key_oid = compat_primary_key_index(match->target);
	if (!OidIsValid(key_oid))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TABLE_DEFINITION),
				 errmsg("target table \"%s\" has no primary key",
						RelationGetRelationName(match->target))));
	match->primary_key = index_open(key_oid, AccessShareLock);
	match->target_blocks = RelationGetNumberOfBlocks(match->target);
	match->source_desc = lookup_rowtype_tupdesc_copy(match->row_type, match->row_typmod);
	match->values = palloc(sizeof(Datum) * match->source_desc->natts);
	match->nulls = palloc(sizeof(bool) * match->source_desc->natts);
	match_columns(match);
	match_key(match);
	require_select_privilege(match);
}

static SyncMatch *
sync_match_begin(FunctionCallInfo fcinfo, Oid target_oid, HeapTupleHeader row,
				 bool remember_new_keys, bool caller_checks_keys)
{
	MemoryContext context = AllocSetContextCreate(fcinfo->flinfo->fn_mcxt,
												  "csv_export sync match",
												  ALLOCSET_DEFAULT_SIZES);
	MemoryContext old_context = MemoryContextSwitchTo(context);
	ResourceOwner saved_owner = CurrentResourceOwner;
	SyncMatch  *match = palloc0(sizeof(SyncMatch));
	MemoryContextCallback *callback = palloc(sizeof(MemoryContextCallback));
	Snapshot	active = GetActiveSnapshot();
	static bool xact_callback_registered = false;

	if (!xact_callback_registered)
	{
		RegisterXactCallback(sync_match_xact_callback, NULL);
		xact_callback_registered = true;
	}
	match->target_oid = target_oid;
	match->remember_new_keys = remember_new_keys;
	match->caller_checks_keys = caller_checks_keys;
	match->row_type = HeapTupleHeaderGetTypeId(row);
	match->row_typmod = HeapTupleHeaderGetTypMod(row);
	match->statement_snapshot = active;
	match->statement_cid = active->curcid;
	match->statement_completions = active->snapXactCompletionCount;
	match->context = context;
	match->owner = ResourceOwnerCreate(TopTransactionResourceOwner, "csv_export sync match");
	dlist_push_tail(&live_matches, &match->live_node);
	callback->func = sync_match_context_reset;
	callback->arg = match;
	MemoryContextRegisterResetCallback(context, callback);

	require_any_select_privilege(target_oid);
	CurrentResourceOwner = match->owner;
	open_target(match, row);
	match->found = table_slot_create(match->target, NULL);
	/* the statement's snapshot: what the MERGE that calls us sees */
	match->snapshot = RegisterSnapshotOnOwner(active, match->owner);
	match->scan = compat_index_beginscan(match->target, match->primary_key,
										 match->snapshot, match->nkeys, 0);
	CurrentResourceOwner = saved_owner;
	/* a walk reads the keys it passes over from the index tuples */
	match->scan->xs_want_itup = match->walk;
	match->scan_key_context = AllocSetContextCreate(context, "csv_export sync scan key",
													ALLOCSET_SMALL_SIZES);
	match->last_key_context = AllocSetContextCreate(context, "csv_export sync last key",
													ALLOCSET_SMALL_SIZES);
	match->ascending = true;
	match->fingerprint_seed = pg_prng_uint64(&pg_global_prng_state);
	if (match->seen_possible)
		match->seen = key_table_create(false);

	MemoryContextSwitchTo(old_context);
	rows_matched = 0;
	return match;
}

/* whether the state of the call site serves this call */
static bool
sync_match_fits(SyncMatch *match, Oid target_oid, HeapTupleHeader row,
				bool remember_new_keys, bool caller_checks_keys)
{
	Snapshot	active = GetActiveSnapshot();

	return !match->released &&
		match->target_oid == target_oid &&
		match->remember_new_keys == remember_new_keys &&
		match->caller_checks_keys == caller_checks_keys &&
		match->row_type == HeapTupleHeaderGetTypeId(row) &&
		match->row_typmod == HeapTupleHeaderGetTypMod(row) &&
		match->statement_snapshot == active &&
		match->statement_cid == active->curcid &&
		match->statement_completions == active->snapXactCompletionCount;
}

/* the hash of a key, given its columns' values in key order; never 0 */
static uint64
hash_key_values(SyncMatch *match, const Datum *key_values)
{
	uint64		hash = 0;
	int			i;

	for (i = 0; i < match->nkeys; i++)
	{
		KeyColumn  *key = &match->keys[i];
		Datum		h = FunctionCall2Coll(&key->hash, key->collation, key_values[i],
										  UInt64GetDatum(0));

		hash = hash_combine64(hash, DatumGetUInt64(h));
	}
	return hash ? hash : 1;
}

/* the hash of the export row's key, computed once per row */
static uint64
key_hash(SyncMatch *match)
{
	int			i;

	if (match->row_hash != 0)
		return match->row_hash;
	for (i = 0; i < match->nkeys; i++)
		match->key_values[i] = match->values[match->keys[i].source_index];
	match->row_hash = hash_key_values(match, match->key_values);
	return match->row_hash;
}

/* false when the hash was there already; *full when it could not be told */
static bool
seen_add(KeyHashTable *seen, uint64 hash, bool *full)
{
	uint64		mask;
	uint64		i;

	*full = !key_table_reserve(seen);
	if (*full)
		return true;
	mask = seen->capacity - 1;
	for (i = hash & mask; slot_hash(seen, i) != 0; i = (i + 1) & mask)
		if (slot_hash(seen, i) == hash)
			return false;
	*(uint64 *) (seen->slots + i * seen->slot_size) = hash;
	seen->used++;
	return true;
}

static int
compare_with_last_key(SyncMatch *match)
{
	int			i;

	for (i = 0; i < match->nkeys; i++)
	{
		KeyColumn  *key = &match->keys[i];
		int32		c = DatumGetInt32(FunctionCall2Coll(&key->order, key->collation,
														match->values[key->source_index],
														match->last_key[i]));

		if (c != 0)
			return c;
	}
	return 0;
}

static void
remember_last_key(SyncMatch *match)
{
	MemoryContext old_context;
	int			i;

	MemoryContextReset(match->last_key_context);
	old_context = MemoryContextSwitchTo(match->last_key_context);
	match->last_key = palloc(sizeof(Datum) * match->nkeys);
	for (i = 0; i < match->nkeys; i++)
		match->last_key[i] = datumCopy(match->values[match->keys[i].source_index],
									   match->keys[i].typbyval, match->keys[i].typlen);
	MemoryContextSwitchTo(old_context);
}

static void
forget_seen_keys(SyncMatch *match)
{
	key_table_free(match->seen);
	match->seen = NULL;
	match->keys_forgotten = true;
}

/* whether a key found twice would be noticed */
static bool
repeats_noticed(SyncMatch *match)
{
	if (match->keys_forgotten)
		return false;
	return match->seen != NULL ||
		(match->target_map != NULL && !match->remember_new_keys);
}

/*
 * Ascending keys cannot repeat, and an export whose first KEY_ORDER_EVIDENCE
 * keys ascend is taken to be in key order: its keys are not remembered any
 * longer, and should one come out of order after all, with nothing left to
 * tell a repeat by, the export is staged.
 */
static void
check_key_order(SyncMatch *match)
{
	if (match->ascending && match->last_key && compare_with_last_key(match) <= 0)
	{
		match->ascending = false;
		if (!repeats_noticed(match))
			ereport(ERROR,
					(errcode(ERRCODE_CARDINALITY_VIOLATION),
					 errmsg("cannot tell whether the export repeats a key"),
					 match->seen_possible ?
					 errdetail_plural("The keys stopped ascending after " INT64_FORMAT " row.",
									  "The keys stopped ascending after " INT64_FORMAT " rows.",
									  rows_matched - 1, rows_matched - 1) :
					 errdetail("The keys are out of order and their type has no extended hash function.")));
	}
	if (match->ascending)
	{
		remember_last_key(match);
		if (match->seen && rows_matched >= KEY_ORDER_EVIDENCE)
			forget_seen_keys(match);
	}
}

static void
raise_repeated_key(void)
{
	ereport(ERROR,
			(errcode(ERRCODE_CARDINALITY_VIOLATION),
			 errmsg("export has more than one row with the same key")));
}

/* the export row's key into the set of keys seen, if it is kept */
static void
remember_key(SyncMatch *match)
{
	bool		full;

	if (!match->seen)
		return;
	if (!seen_add(match->seen, key_hash(match), &full))
		raise_repeated_key();
	if (full && !match->ascending)
		ereport(ERROR,
				(errcode(ERRCODE_CARDINALITY_VIOLATION),
				 errmsg("cannot tell whether the export repeats a key"),
				 errdetail("The keys are out of order and more than maintenance_work_mem holds.")));
	if (full)
		forget_seen_keys(match);
}

/*
 * A key found in the target the second time.  It must be caught: the later
 * row, were it unchanged, would be passed over, and the earlier one would
 * win.  A new key needs no remembering, unless the caller asked for it:
 * its second row fails the unique check of the row the first one inserted.
 * In the target map a found key's slot is marked; else its hash is kept.
 */
static void
remember_found_key(SyncMatch *match)
{
	MapSlot    *slot;

	if (match->remember_new_keys)
		return;
	if (!match->target_map)
	{
		remember_key(match);
		return;
	}
	slot = map_slot(match->target_map, match->found_slot);
	if (slot->found)
		raise_repeated_key();
	slot->found = true;
}

/*
 * Keys found before the target was read into its map are marked in it by
 * their hashes, and the set is given up.  Another key with one of those
 * hashes, in 2^64, is then taken for a repeat: the export is staged.
 */
static void
mark_seen_keys_in_map(SyncMatch *match)
{
	KeyHashTable *map = match->target_map;
	uint64		mask = map->capacity - 1;
	uint64		j;

	if (match->remember_new_keys || !match->seen)
		return;
	for (j = 0; j < match->seen->capacity; j++)
	{
		uint64		hash = slot_hash(match->seen, j);
		uint64		i;

		if (hash == 0)
			continue;
		for (i = hash & mask; slot_hash(map, i) != 0; i = (i + 1) & mask)
			if (slot_hash(map, i) == hash)
				map_slot(map, i)->found = true;
	}
	key_table_free(match->seen);
	match->seen = NULL;
}

/*
 * Whether the target row holds the export row's values, compared by image,
 * as REFRESH MATERIALIZED VIEW CONCURRENTLY does: 1.0 and 1.00, 0 and -0,
 * or two spellings equal under a nondeterministic collation are changes
 * the export made, which the type's equality would hide.
 */
static bool
same_values(SyncMatch *match)
{
	TupleTableSlot *found = match->found;
	int			i;

	slot_getallattrs(found);
	for (i = 0; i < match->ncolumns; i++)
	{
		MatchedColumn *column = &match->columns[i];
		bool		source_null = match->nulls[column->source_index];
		bool		target_null = found->tts_isnull[column->target_attno - 1];

		if (source_null || target_null)
		{
			if (source_null != target_null)
				return false;
			continue;
		}
		if (!datum_image_eq(match->values[column->source_index],
							found->tts_values[column->target_attno - 1],
							column->typbyval, column->typlen))
			return false;
	}
	return true;
}

/*
 * Fingerprints of the compared values.
 *
 * A row's fingerprint is a 64-bit hash of what same_values compares: each
 * column's image (a by-value datum's bits, the bytes of a fixed-length
 * type, a varlena's content whatever its header, compression or
 * toasting), or its NULL, the key's columns among them.  Equal values
 * give equal fingerprints; unequal ones the same fingerprint by chance
 * only, about one in 2^64 per changed row: each column's hash is seeded,
 * and the running fingerprint goes through a bijective mixer, so that two
 * rows whose column hashes differ in one column only never meet.  The
 * seed is drawn anew for every statement's state, so such a chance does
 * not recur on the next sync, which then writes the row.  Only the target
 * map keeps fingerprints: other lookups fetch the row anyway.
 */

/* murmur3's 64-bit finalizer: a bijection that spreads every bit */
static inline uint64
mix64(uint64 x)
{
	x ^= x >> 33;
	x *= UINT64CONST(0xff51afd7ed558ccd);
	x ^= x >> 33;
	x *= UINT64CONST(0xc4ceb9fe1a85ec53);
	x ^= x >> 33;
	return x;
}

/* a seeded hash of the image datum_image_eq compares */
static uint64
hash_image(Datum value, const MatchedColumn *column, uint64 seed)
{
	const unsigned char *bytes;
	Size		length;
	struct varlena *whole = NULL;
	uint64		hash;

	if (column->typbyval)
	{
		bytes = (const unsigned char *) &value;
		length = sizeof(Datum);
	}
	else if (column->typlen > 0)
	{
		bytes = (const unsigned char *) DatumGetPointer(value);
		length = column->typlen;
	}
	else if (column->typlen == -1)
	{
		whole = pg_detoast_datum_packed((struct varlena *) DatumGetPointer(value));
		bytes = (const unsigned char *) VARDATA_ANY(whole);
		length = VARSIZE_ANY_EXHDR(whole);
	}
	else
	{
		bytes = (const unsigned char *) DatumGetCString(value);
		length = strlen((const char *) bytes) + 1;
	}
	hash = hash_bytes_extended(bytes, length, seed);
	if (whole != NULL && (Pointer) whole != DatumGetPointer(value))
		pfree(whole);
	return hash;
}

/* of the export row (values in export order) or of a target row */
static uint64
fingerprint_values(SyncMatch *match, const Datum *values, const bool *nulls,
				   bool of_target)
{
	uint64		seed = match->fingerprint_seed;
	uint64		fingerprint = seed;
	int			i;

	for (i = 0; i < match->ncolumns; i++)
	{
		MatchedColumn *column = &match->columns[i];
		int			index = of_target ? column->target_attno - 1 : column->source_index;
		uint64		column_hash = nulls[index] ? ~seed :
			hash_image(values[index], column, seed);

		fingerprint = mix64(fingerprint ^ column_hash);
	}
	return fingerprint;
}

/*
 * Finding the export row's key in the target's primary key.
 *
 * The index holds, besides the rows the statement's snapshot sees, an entry
 * for every row this very MERGE has inserted so far, invisible to it.  A
 * lookup must never walk over those (a walk that did made a sync into an
 * empty target quadratic in the export's size): it costs at most a descent
 * from the root plus the entries of its own key, that is, that key's row
 * versions.
 *
 * A one-column key that the index can return is looked up by moving along
 * the index, which for an export in key order (or a run of one) costs a
 * step or two per row instead of a descent: the scan stays on an index
 * entry, and an export key a few entries ahead is reached by stepping,
 * comparing keys in the index tuples and reading the heap only for entries
 * with the very key.  A key behind the scan, or further ahead than
 * MAX_WALK_STEPS entries, is found by a descent to its first entry.  Other
 * keys are looked up by equality on every column.
 */
typedef enum KeySearch
{
	KEY_FOUND,					/* the target row is in match->found */
	KEY_ABSENT,
	KEY_ELSEWHERE				/* not reachable by walking: descend */
} KeySearch;

static void
step_to_next_entry(SyncMatch *match)
{
	match->on_entry = index_getnext_tid(match->scan, ForwardScanDirection) != NULL;
}

/* the export row's key against the key of the index entry under the scan */
static int
compare_with_entry_key(SyncMatch *match)
{
	KeyColumn  *key = &match->keys[0];
	IndexScanDesc scan = match->scan;
	bool		isnull;
	Datum		entry_key = index_getattr(scan->xs_itup, 1, scan->xs_itupdesc, &isnull);

	return DatumGetInt32(FunctionCall2Coll(&key->order, key->collation,
										   match->values[key->source_index],
										   entry_key));
}

/*
 * From the index entry under the scan forward to the export row's key.  A
 * walk may pass over at most MAX_WALK_STEPS smaller keys, and gives up on a
 * key that may lie behind where it started; after a descent, which stands
 * on the first entry >= the key, neither can happen.
 */
static KeySearch
search_from_entry(SyncMatch *match, bool walking)
{
	bool		at_start = true;
	int			smaller_passed = 0;

	for (;;)
	{
		int			c;

		if (!match->on_entry)
		{
			/*
			 * Past the last entry.  Where the walk starts there, the key is
			 * absent if it is larger than the one the scan ran off the end
			 * for, which ascending export keys say.
			 */
			if (walking && at_start && !match->ascending)
				return KEY_ELSEWHERE;
			return KEY_ABSENT;
		}
		c = compare_with_entry_key(match);
		if (c < 0)
			return (walking && at_start) ? KEY_ELSEWHERE : KEY_ABSENT;
		if (c == 0 && index_fetch_heap(match->scan, match->found))
			return KEY_FOUND;
		if (c > 0 && ++smaller_passed > MAX_WALK_STEPS)
			return KEY_ELSEWHERE;
		step_to_next_entry(match);
		at_start = false;
	}
}

/* restart the scan at the export row's key, from the index's root */
static void
descend_to_key(SyncMatch *match, ScanKey scan_keys)
{
	int			i;

	/* the scan compares entries with these until it is restarted */
	MemoryContextReset(match->scan_key_context);
	MemoryContextSwitchTo(match->scan_key_context);
	for (i = 0; i < match->nkeys; i++)
		scan_keys[i].sk_argument =
			datumCopy(match->values[match->keys[i].source_index],
					  match->keys[i].typbyval, match->keys[i].typlen);
	MemoryContextSwitchTo(match->context);
	index_rescan(match->scan, scan_keys, match->nkeys, NULL, 0);
	match->walking = (scan_keys == match->walk_keys);
	if (match->walk)
		step_to_next_entry(match);
}

/*
 * Where a key can be walked to, the scan starts at the first entry >= the
 * key, ready to walk on.  But nbtree reads the rest of the leaf page for
 * such a scan, where an equality scan stops after the key's own entries;
 * so once a walk has failed, which says the keys do not come in order, the
 * next WALK_RETRY_ROWS keys are looked up by equality before a walk is
 * tried again.
 */
#define WALK_RETRY_ROWS 64

static KeySearch
search_walkable_key(SyncMatch *match)
{
	if (match->walking)
	{
		KeySearch	search = search_from_entry(match, true);

		if (search != KEY_ELSEWHERE)
			return search;
		match->rows_until_walk = WALK_RETRY_ROWS;
	}
	if (match->rows_until_walk > 0)
	{
		match->rows_until_walk--;
		descend_to_key(match, match->point_keys);
	}
	else
		descend_to_key(match, match->walk_keys);
	return search_from_entry(match, false);
}

/*
 * Reading the target into a KeyHashTable.
 *
 * A lookup in the primary key descends from its root, comparing the key
 * with entries on every level; for keys in no particular order each
 * descent meets pages that are not in the CPU's caches, and the descents
 * are most of a sync's time.  Reading the target once, in physical order,
 * and probing a hash table instead costs less once the export has had as
 * many rows as the target has pages: the descents made until then cost
 * about what the read does, so the sync never pays much more than the
 * better of the two.  Keys that ascend are walked to instead
 * (search_walkable_key), and an empty target needs no read at all.  The
 * read fingerprints each row's values too, so that an unchanged row is not
 * fetched again, from a random page, to be compared.  A map that would
 * outgrow maintenance_work_mem gives up its fingerprints, then itself for
 * the index.
 */
/* the key of the target row in match->found, in key order */
static void
found_key_values(SyncMatch *match)
{
	int			i;

	for (i = 0; i < match->nkeys; i++)
	{
		bool		isnull;

		/* primary key columns are never NULL */
		match->key_values[i] = slot_getattr(match->found, match->keys[i].target_attno, &isnull);
	}
}

/* the target row in match->found into the map, which has room for it */
static void
add_found_to_map(SyncMatch *match, KeyHashTable *map)
{
	TupleTableSlot *found = match->found;
	uint64		hash;
	uint64		i;

	found_key_values(match);
	hash = hash_key_values(match, match->key_values);
	i = key_table_place(map, hash);
	map_slot(map, i)->hash = hash;
	map_slot(map, i)->tid = found->tts_tid;
	if (map_has_fingerprints(map))
	{
		slot_getallattrs(found);
		fingerprinted_slot(map, i)->values_fingerprint =
			fingerprint_values(match, found->tts_values, found->tts_isnull, true);
	}
}

/* the planner's estimate: the last VACUUM's or ANALYZE's rows per page */
static double
expected_target_rows(SyncMatch *match)
{
	Form_pg_class form = RelationGetForm(match->target);

	if (form->relpages <= 0 || form->reltuples < 0)
		return 0;
	return form->reltuples / form->relpages * match->target_blocks;
}

/*
 * Every row version the statement sees, by the hash of its key; NULL when
 * the map would not fit.  Runs under the state's resource owner and memory.
 */
static KeyHashTable *
read_target_map(SyncMatch *match)
{
	KeyHashTable *map = key_table_create(true);
	MemoryContext row_context;
	TableScanDesc scan;
	bool		fits = true;

	if (match->target_blocks == 0)
		return map;
	key_table_presize(map, expected_target_rows(match));
	/* hashing a key or a value may detoast it */
	row_context = AllocSetContextCreate(CurrentMemoryContext, "csv_export sync map row",
										ALLOCSET_SMALL_SIZES);
	scan = table_beginscan(match->target, match->snapshot, 0, NULL);
	while (fits && table_scan_getnextslot(scan, ForwardScanDirection, match->found))
	{
		CHECK_FOR_INTERRUPTS();
		fits = key_table_reserve(map);
		if (fits)
		{
			MemoryContext old_context = MemoryContextSwitchTo(row_context);

			add_found_to_map(match, map);
			MemoryContextSwitchTo(old_context);
			MemoryContextReset(row_context);
		}
	}
	table_endscan(scan);
	ExecClearTuple(match->found);
	MemoryContextDelete(row_context);
	if (fits)
		return map;
	key_table_free(map);
	return NULL;
}

/* whether now is the time to read the target into a map */
static bool
target_map_wanted(SyncMatch *match)
{
	if (match->target_map_tried || !match->seen_possible)
		return false;
	if (match->target_blocks == 0)
		return true;
	/* ascending keys that can be walked to cost a step or two each */
	if (match->ascending && match->walk)
		return false;
	return rows_matched > (int64) match->target_blocks;
}

/* whether the target row in match->found has the export row's key */
static bool
found_has_export_key(SyncMatch *match)
{
	int			i;

	found_key_values(match);
	for (i = 0; i < match->nkeys; i++)
	{
		KeyColumn  *key = &match->keys[i];

		if (DatumGetInt32(FunctionCall2Coll(&key->order, key->collation,
											match->values[key->source_index],
											match->key_values[i])) != 0)
			return false;
	}
	return true;
}

/*
 * The export row's key in the map.  A slot of its key hash whose
 * fingerprint is the row's says the row is unchanged; one whose
 * fingerprint differs, that it changed, if the caller checks the key of
 * the row the slot's ctid leads to (the hash may be another key's).  Else
 * the target row is fetched into match->found, and its key checked.
 */
static bool
find_in_target_map(SyncMatch *match)
{
	KeyHashTable *map = match->target_map;
	bool		fingerprinted = map_has_fingerprints(map);
	bool		row_fingerprinted = false;
	uint64		row_fingerprint = 0;
	uint64		hash;
	uint64		mask;
	uint64		i;

	if (map->used == 0)
		return false;
	hash = key_hash(match);
	mask = map->capacity - 1;
	for (i = hash & mask; slot_hash(map, i) != 0; i = (i + 1) & mask)
	{
		if (slot_hash(map, i) != hash)
			continue;
		if (fingerprinted && !row_fingerprinted)
		{
			row_fingerprint = fingerprint_values(match, match->values, match->nulls, false);
			row_fingerprinted = true;
		}
		match->found_slot = i;
		if (fingerprinted && fingerprinted_slot(map, i)->values_fingerprint == row_fingerprint)
		{
			match->found_row = FOUND_UNCHANGED;
			return true;
		}
		if (fingerprinted && match->caller_checks_keys)
		{
			match->found_row = FOUND_CHANGED;
			return true;
		}
		if (table_tuple_fetch_row_version(match->target, &map_slot(map, i)->tid,
										  match->snapshot, match->found) &&
			found_has_export_key(match))
			return true;
	}
	return false;
}

/*
 * The index AM keeps some of what it allocates during a scan until the scan
 * ends, so the scan runs in the query's memory, as the executor's do, not in
 * the per-row memory this function is called in.
 */
static bool
find_target_row(SyncMatch *match)
{
	MemoryContext old_context = MemoryContextSwitchTo(match->context);
	ResourceOwner saved_owner = CurrentResourceOwner;
	bool		found;

	CurrentResourceOwner = match->owner;	/* for the buffer pins */
	if (target_map_wanted(match))
	{
		match->target_map_tried = true;
		match->target_map = read_target_map(match);
		if (match->target_map)
			mark_seen_keys_in_map(match);
	}
	if (match->target_map)
		found = find_in_target_map(match);
	else if (match->walk)
		found = (search_walkable_key(match) == KEY_FOUND);
	else
	{
		descend_to_key(match, match->point_keys);
		found = index_getnext_slot(match->scan, ForwardScanDirection, match->found);
	}
	CurrentResourceOwner = saved_owner;
	MemoryContextSwitchTo(old_context);
	return found;
}

/* the answer for a row whose key find_target_row found */
static ItemPointer
found_row_answer(SyncMatch *match)
{
	ItemPointer result = palloc(sizeof(ItemPointerData));

	if (match->found_row == FOUND_CHANGED)
		ItemPointerCopy(&map_slot(match->target_map, match->found_slot)->tid, result);
	else if (match->found_row == FOUND_UNCHANGED || same_values(match))
		ItemPointerSet(result, 0, 0);
	else
		ItemPointerCopy(&match->found->tts_tid, result);
	return result;
}

/*
 * csv_export._sync_match(target, export_row, remember_new_keys,
 * caller_checks_keys): 1.3's statements pass remember_new_keys false and
 * catch the primary key's unique_violation; 1.7's pass caller_checks_keys
 * true and join on the key as well as the ctid.  The fewer arguments of
 * earlier versions' statements (a library newer than the installed
 * extension's scripts) get what those versions did: every key remembered
 * with two arguments, every key checked with fewer than four.
 */
Datum
csv_export_sync_match(PG_FUNCTION_ARGS)
{
	Oid			target_oid;
	HeapTupleHeader row;
	bool		remember_new_keys;
	bool		caller_checks_keys;
	SyncMatch  *match = (SyncMatch *) fcinfo->flinfo->fn_extra;
	HeapTupleData tuple;
	int			i;

	/* declared STRICT; NULL-safe also if it is called some other way */
	for (i = 0; i < PG_NARGS(); i++)
		if (PG_ARGISNULL(i))
			PG_RETURN_NULL();
	target_oid = PG_GETARG_OID(0);
	row = PG_GETARG_HEAPTUPLEHEADER(1);
	remember_new_keys = PG_NARGS() > 2 ? PG_GETARG_BOOL(2) : true;
	caller_checks_keys = PG_NARGS() > 3 ? PG_GETARG_BOOL(3) : false;
	if (match != NULL &&
		!sync_match_fits(match, target_oid, row, remember_new_keys, caller_checks_keys))
	{
		fcinfo->flinfo->fn_extra = NULL;
		MemoryContextDelete(match->context);
		match = NULL;
	}
	if (match == NULL)
		fcinfo->flinfo->fn_extra = match =
			sync_match_begin(fcinfo, target_oid, row, remember_new_keys, caller_checks_keys);

	tuple.t_len = HeapTupleHeaderGetDatumLength(row);
	ItemPointerSetInvalid(&tuple.t_self);
	tuple.t_tableOid = InvalidOid;
	tuple.t_data = row;
	heap_deform_tuple(&tuple, match->source_desc, match->values, match->nulls);
	match->row_hash = 0;
	match->found_row = FOUND_FETCHED;
	rows_matched++;

	/* a key with a NULL is new; the INSERT reports the NOT NULL violation */
	for (i = 0; i < match->nkeys; i++)
		if (match->nulls[match->keys[i].source_index])
			PG_RETURN_NULL();
	check_key_order(match);
	if (match->remember_new_keys)
		remember_key(match);
	if (!find_target_row(match))
		PG_RETURN_NULL();
	remember_found_key(match);
	PG_RETURN_POINTER(found_row_answer(match));
}

/* how many rows the last _sync_match looked at; reading starts a new count */
Datum
csv_export_sync_match_rows(PG_FUNCTION_ARGS)
{
	int64		rows = rows_matched;

	rows_matched = 0;
	PG_RETURN_INT64(rows);
}
