package sqlguard

// deniedFuncs names functions refused with a specific reason. Every other
// function not in allowedFuncs is refused too; this list only makes the
// message say why.
var deniedFuncs = map[string]string{
	"sleep":     "sleeps",
	"benchmark": "burns server CPU",

	"get_lock":          "takes a named lock",
	"release_lock":      "frees a named lock",
	"release_all_locks": "frees named locks",
	"is_free_lock":      "inspects a named lock",
	"is_used_lock":      "inspects a named lock",

	"load_file": "reads a server file",

	"master_pos_wait":                   "waits for replication",
	"source_pos_wait":                   "waits for replication",
	"master_gtid_wait":                  "waits for replication",
	"wait_for_executed_gtid_set":        "waits for replication",
	"wait_until_sql_thread_after_gtids": "waits for replication",
	"gtid_subset":                       "inspects replication",
	"gtid_subtract":                     "inspects replication",
	"binlog_gtid_pos":                   "reads the binary log",

	"nextval": "advances a sequence",
	"lastval": "reads a sequence",
	"setval":  "changes a sequence",

	"sys_exec": "is a user-defined function (runs commands on the server)",
	"sys_eval": "is a user-defined function (runs commands on the server)",
	"sys_get":  "is a user-defined function",
	"sys_set":  "is a user-defined function",

	"connection_id":             "reads session state",
	"last_insert_id":            "reads or sets session state",
	"row_count":                 "reads session state",
	"found_rows":                "reads session state",
	"user":                      "reads the session's account",
	"current_user":              "reads the session's account",
	"session_user":              "reads the session's account",
	"system_user":               "reads the session's account",
	"current_role":              "reads the session's roles",
	"version":                   "reads server information",
	"database":                  "reads session state",
	"schema":                    "reads session state",
	"uuid_short":                "reads server state",
	"ps_current_thread_id":      "reads server state",
	"ps_thread_id":              "reads server state",
	"password":                  "hashes passwords",
	"old_password":              "hashes passwords",
	"encrypt":                   "calls the system crypt()",
	"des_encrypt":               "reads the server's DES key file",
	"des_decrypt":               "reads the server's DES key file",
	"name_const":                "is for replication internals",
	"default":                   "reads column defaults",
	"values":                    "is only meaningful in INSERT",
	"value":                     "is only meaningful in INSERT",
	"wsrep_last_seen_gtid":      "inspects replication",
	"wsrep_last_written_gtid":   "inspects replication",
	"wsrep_sync_wait_upto_gtid": "waits for replication",

	// Spatial operations whose server time grows faster than their
	// geometries (two crossing 200-tooth combs: ST_UNION 25 s; a 1 000-point
	// MULTIPOINT buffered: 26 s) and that MariaDB does not interrupt (no
	// KILL or max_statement_time check inside Gcalc). The predicates
	// (ST_INTERSECTS, ST_CONTAINS, ST_RELATE, ...; 20 ms on the 200-tooth
	// combs) and ST_CONVEXHULL (4 000 points, all on the hull: 8 ms; its
	// output is at most its input) stay allowed.
	"st_union":         spatialWhy,
	"st_intersection":  spatialWhy,
	"st_difference":    spatialWhy,
	"st_symdifference": spatialWhy,
	"st_buffer":        spatialWhy,
	"buffer":           spatialWhy,

	// Its output is up to max_allowed_packet whatever its input (a 8 kB
	// literal inflates to 8 MB), every call keeps its buffer until the
	// statement ends, and MariaDB checks no KILL between the calls.
	"uncompress": "inflates data to a size its input does not bound (a compression bomb), in memory the server keeps until the statement ends and does not stop on KILL",
}

const spatialWhy = "is a spatial set operation or buffer: its server time grows faster than the size of its geometries and MariaDB does not stop it on KILL or max_statement_time"
