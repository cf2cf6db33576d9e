/* csv_export_fdw--1.0.sql */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION csv_export_fdw" to load this file. \quit

CREATE FUNCTION csv_export_fdw_handler()
RETURNS fdw_handler
AS 'MODULE_PATHNAME'
LANGUAGE C STRICT;

CREATE FUNCTION csv_export_fdw_validator(text[], oid)
RETURNS void
AS 'MODULE_PATHNAME'
LANGUAGE C STRICT;

CREATE FOREIGN DATA WRAPPER csv_export_fdw
  HANDLER csv_export_fdw_handler
  VALIDATOR csv_export_fdw_validator;
