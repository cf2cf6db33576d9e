src/url.bc: src/url.c /usr/include/postgresql/15/server/postgres.h \
  /usr/include/postgresql/15/server/c.h \
  /usr/include/postgresql/15/server/postgres_ext.h \
  /usr/include/postgresql/15/server/pg_config_ext.h \
  /usr/include/postgresql/15/server/pg_config.h \
  /usr/include/postgresql/15/server/pg_config_manual.h \
  /usr/include/postgresql/15/server/pg_config_os.h \
  /usr/include/postgresql/15/server/port.h \
  /usr/include/postgresql/15/server/utils/elog.h \
  /usr/include/postgresql/15/server/utils/errcodes.h \
  /usr/include/postgresql/15/server/utils/palloc.h \
  /usr/include/postgresql/15/server/lib/stringinfo.h \
  src/csv_export_fdw.h \
  /usr/include/postgresql/15/server/access/tupdesc.h \
  /usr/include/postgresql/15/server/access/attnum.h \
  /usr/include/postgresql/15/server/access/xlogdefs.h \
  /usr/include/postgresql/15/server/catalog/pg_attribute.h \
  /usr/include/postgresql/15/server/catalog/genbki.h \
  /usr/include/postgresql/15/server/catalog/pg_attribute_d.h \
  /usr/include/postgresql/15/server/nodes/pg_list.h \
  /usr/include/postgresql/15/server/nodes/nodes.h \
  /usr/include/postgresql/15/server/fmgr.h \
  /usr/include/postgresql/15/server/foreign/foreign.h \
  /usr/include/postgresql/15/server/nodes/parsenodes.h \
  /usr/include/postgresql/15/server/nodes/bitmapset.h \
  /usr/include/postgresql/15/server/nodes/lockoptions.h \
  /usr/include/postgresql/15/server/nodes/primnodes.h \
  /usr/include/postgresql/15/server/nodes/value.h \
  /usr/include/postgresql/15/server/partitioning/partdefs.h \
  /usr/include/postgresql/15/server/utils/relcache.h src/csv_reader.h

/usr/include/postgresql/15/server/postgres.h:

/usr/include/postgresql/15/server/c.h:

/usr/include/postgresql/15/server/postgres_ext.h:

/usr/include/postgresql/15/server/pg_config_ext.h:

/usr/include/postgresql/15/server/pg_config.h:

/usr/include/postgresql/15/server/pg_config_manual.h:

/usr/include/postgresql/15/server/pg_config_os.h:

/usr/include/postgresql/15/server/port.h:

/usr/include/postgresql/15/server/utils/elog.h:

/usr/include/postgresql/15/server/utils/errcodes.h:

/usr/include/postgresql/15/server/utils/palloc.h:

/usr/include/postgresql/15/server/lib/stringinfo.h:

src/csv_export_fdw.h:

/usr/include/postgresql/15/server/access/tupdesc.h:

/usr/include/postgresql/15/server/access/attnum.h:

/usr/include/postgresql/15/server/access/xlogdefs.h:

/usr/include/postgresql/15/server/catalog/pg_attribute.h:

/usr/include/postgresql/15/server/catalog/genbki.h:

/usr/include/postgresql/15/server/catalog/pg_attribute_d.h:

/usr/include/postgresql/15/server/nodes/pg_list.h:

/usr/include/postgresql/15/server/nodes/nodes.h:

/usr/include/postgresql/15/server/fmgr.h:

/usr/include/postgresql/15/server/foreign/foreign.h:

/usr/include/postgresql/15/server/nodes/parsenodes.h:

/usr/include/postgresql/15/server/nodes/bitmapset.h:

/usr/include/postgresql/15/server/nodes/lockoptions.h:

/usr/include/postgresql/15/server/nodes/primnodes.h:

/usr/include/postgresql/15/server/nodes/value.h:

/usr/include/postgresql/15/server/partitioning/partdefs.h:

/usr/include/postgresql/15/server/utils/relcache.h:

src/csv_reader.h:
