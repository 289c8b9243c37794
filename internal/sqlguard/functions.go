package sqlguard

import "strings"

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
}

// allowedFuncs are MariaDB/MySQL built-ins that compute a value from their
// arguments (or the clock, or a random source) and touch nothing else.
var allowedFuncs = map[string]bool{}

// allowedPrefixes cover function families that are pure throughout.
var allowedPrefixes = []string{"st_", "json_", "mbr", "column_", "regexp_"}

func init() {
	for _, f := range strings.Fields(`
		abs acos asin atan atan2 ceil ceiling conv cos cot crc32 crc32c degrees exp floor
		greatest least ln log log10 log2 mod oct pi pow power radians rand round sign sin
		sqrt tan truncate format div
		ascii bin bit_length char_length character_length chr concat concat_ws elt
		export_set field find_in_set from_base64 hex instr lcase left length lengthb
		locate lower lpad ltrim make_set mid octet_length ord position quote repeat
		replace reverse right rpad rtrim soundex space strcmp substr substring
		substring_index to_base64 trim ucase unhex upper natural_sort_key sformat
		to_char weight_string bit_count inet_aton inet_ntoa inet6_aton inet6_ntoa
		is_ipv4 is_ipv6 is_ipv4_compat is_ipv4_mapped md5 sha sha1 sha2 compress uncompress
		uncompressed_length aes_encrypt aes_decrypt random_bytes uuid sys_guid
		format_bytes format_pico_time
		adddate addtime convert_tz curdate current_date current_time current_timestamp
		curtime date date_add date_format date_sub datediff day dayname dayofmonth
		dayofweek dayofyear extract from_days from_unixtime get_format hour last_day
		localtime localtimestamp makedate maketime microsecond minute month monthname now
		period_add period_diff quarter sec_to_time second str_to_date subdate subtime
		sysdate time time_format time_to_sec timediff timestamp timestampadd timestampdiff
		to_days to_seconds unix_timestamp utc_date utc_time utc_timestamp week weekday
		weekofyear year yearweek add_months months_between
		if ifnull nullif coalesce isnull nvl nvl2 interval
		count sum avg min max group_concat bit_and bit_or bit_xor std stddev stddev_pop
		stddev_samp var_pop var_samp variance any_value percentile_cont percentile_disc median
		row_number rank dense_rank percent_rank cume_dist ntile lag lead first_value
		last_value nth_value
		cast convert collation charset coercibility binary
		point linestring polygon multipoint multilinestring multipolygon geometrycollection
		geomfromtext geomfromwkb astext aswkt asbinary aswkb x y area length
		srid dimension envelope isempty issimple
		geomcollfromtext geomcollfromwkb linefromtext linefromwkb mlinefromtext mpointfromtext
		mpolyfromtext pointfromtext pointfromwkb polyfromtext polyfromwkb
		boundary buffer centroid contains convexhull crosses difference disjoint distance
		equals glength intersection intersects isclosed isring numgeometries numinteriorrings
		numpoints overlaps pointn startpoint endpoint exteriorring interiorringn geometryn
		symdifference touches within
	`) {
		allowedFuncs[f] = true
	}
}

func isAllowedFunc(name string) bool {
	if allowedFuncs[name] {
		return true
	}
	for _, p := range allowedPrefixes {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}
