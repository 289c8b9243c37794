package sqlguard

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Flavor is the server family a statement is sent to.
type Flavor string

// Flavors.
const (
	// AnyFlavor is the zero Dialect's flavor: the server is not known
	// (runner --dry-run). A function is allowed when it is a built-in of
	// MariaDB 10.11 or of MySQL 8.0; the executor checks the statement
	// again for the server it actually reached before running anything.
	AnyFlavor Flavor = ""
	MariaDB   Flavor = "mariadb"
	MySQL     Flavor = "mysql"
)

// Dialect is the server a statement is sent to. The executor learns it from
// the server (VERSION(), information_schema.COLLATIONS) before it checks
// the statement; the zero value means "not known".
type Dialect struct {
	Flavor Flavor
	// Major, Minor are the server version (10, 11 for MariaDB 10.11.6).
	Major, Minor int
	// Charsets and Collations, when not nil, are the served server's own
	// lists (lower case); a name must then be on them as well as on the
	// guard's closed set.
	Charsets, Collations map[string]bool
}

// SetServerNames sets the served server's own character set and collation
// lists (information_schema.COLLATIONS), adding the utf8 aliases of
// utf8mb3 names as the server reads them.
func (d *Dialect) SetServerNames(charsets, collations []string) {
	d.Charsets, d.Collations = map[string]bool{}, map[string]bool{}
	for _, c := range charsets {
		c = strings.ToLower(c)
		d.Charsets[c] = true
		if c == "utf8mb3" {
			d.Charsets["utf8"] = true
		}
	}
	for _, c := range collations {
		c = strings.ToLower(c)
		d.Collations[c] = true
		if rest, ok := strings.CutPrefix(c, "utf8mb3_"); ok {
			d.Collations["utf8_"+rest] = true
		}
	}
}

// String names the dialect for messages: "MariaDB 10.11", "MySQL 8.0".
func (d Dialect) String() string {
	switch d.Flavor {
	case MariaDB:
		return fmt.Sprintf("MariaDB %d.%d", d.Major, d.Minor)
	case MySQL:
		return fmt.Sprintf("MySQL %d.%d", d.Major, d.Minor)
	}
	return "MariaDB 10.11 or MySQL 8.0"
}

// ParseServerVersion reads a VERSION() string: "10.11.6-MariaDB-0+deb12u1"
// is MariaDB 10.11, "8.0.36" is MySQL 8.0. A MariaDB older than 10.11 or a
// MySQL older than 8.0 is refused: the function lists below are those
// releases' built-ins, and an older server lacks some of them (an
// unqualified call of a name the server does not know as a built-in runs
// a stored function of the current database).
func ParseServerVersion(v string) (Dialect, error) {
	d := Dialect{Flavor: MySQL}
	if strings.Contains(strings.ToLower(v), "mariadb") {
		d.Flavor = MariaDB
		// MariaDB 10.x once announced itself as "5.5.5-10.x.y-MariaDB".
		v = strings.TrimPrefix(v, "5.5.5-")
	}
	parts := strings.SplitN(v, ".", 3)
	if len(parts) < 2 {
		return Dialect{}, fmt.Errorf("unrecognised server version %q", v)
	}
	major, err1 := strconv.Atoi(parts[0])
	minor, err2 := strconv.Atoi(strings.TrimRightFunc(parts[1], func(r rune) bool { return r < '0' || r > '9' }))
	if err1 != nil || err2 != nil {
		return Dialect{}, fmt.Errorf("unrecognised server version %q", v)
	}
	d.Major, d.Minor = major, minor
	switch {
	case d.Flavor == MariaDB && (major > 10 || major == 10 && minor >= 11):
	case d.Flavor == MySQL && major >= 8:
	default:
		return Dialect{}, fmt.Errorf("server version %q is not supported (MariaDB 10.11 or later, MySQL 8.0 or later)", v)
	}
	return d, nil
}

// Built-in functions by dialect. A name is allowed only where the served
// server has it as a built-in: on a server that does not, an unqualified
// call resolves to a stored function of the current database (finding: on
// MariaDB 10.11, FORMAT_BYTES, ANY_VALUE, REGEXP_LIKE, JSON_SCHEMA_VALID,
// ST_GEOHASH, ... are stored-function calls). No prefix wildcards.
//
// Not here although built-ins (deniedFuncs says why): the spatial
// operations that construct a geometry with super-linear work (ST_UNION,
// ST_INTERSECTION, ST_DIFFERENCE, ST_SYMDIFFERENCE, ST_BUFFER/BUFFER) and
// UNCOMPRESS, whose output is not bounded by
// its input: MariaDB looks at neither KILL nor max_statement_time inside
// them (attack review 4).
//
// Every name here computes a value from its arguments (or the clock, or a
// random source) and touches nothing else. TestBuiltinsAreBuiltinOnMariaDB
// (internal/sqlexec) calls each MariaDB name on a real MariaDB 10.11 at
// every arity the guard accepts and checks that none is looked up as a
// stored function.
var (
	// Both MariaDB 10.11 and MySQL 8.0.
	commonFuncs = `
		abs acos asin atan atan2 ceil ceiling conv cos cot crc32 degrees exp floor
		greatest least ln log log10 log2 mod oct pi pow power radians rand round sign sin
		sqrt tan truncate format
		ascii bin bit_length char char_length character_length concat concat_ws elt
		export_set field find_in_set from_base64 hex insert instr lcase left length
		locate lower lpad ltrim make_set mid octet_length ord position quote repeat
		replace reverse right rpad rtrim soundex space strcmp substr substring
		substring_index to_base64 trim ucase unhex upper weight_string bit_count
		inet_aton inet_ntoa inet6_aton inet6_ntoa is_ipv4 is_ipv6 is_ipv4_compat
		is_ipv4_mapped md5 sha sha1 sha2 compress uncompressed_length
		aes_encrypt aes_decrypt random_bytes uuid extractvalue updatexml match
		adddate addtime convert_tz curdate current_date current_time current_timestamp
		curtime date date_add date_format date_sub datediff day dayname dayofmonth
		dayofweek dayofyear extract from_days from_unixtime get_format hour last_day
		localtime localtimestamp makedate maketime microsecond minute month monthname now
		period_add period_diff quarter sec_to_time second str_to_date subdate subtime
		sysdate time time_format time_to_sec timediff timestamp timestampadd timestampdiff
		to_days to_seconds unix_timestamp utc_date utc_time utc_timestamp week weekday
		weekofyear year yearweek
		if ifnull nullif coalesce isnull interval
		count sum avg min max group_concat bit_and bit_or bit_xor std stddev stddev_pop
		stddev_samp var_pop var_samp variance json_arrayagg json_objectagg
		row_number rank dense_rank percent_rank cume_dist ntile lag lead first_value
		last_value nth_value
		cast convert collation charset coercibility
		json_array json_array_append json_array_insert json_contains json_contains_path
		json_depth json_extract json_insert json_keys json_length json_merge
		json_merge_patch json_merge_preserve json_object json_overlaps json_pretty
		json_quote json_remove json_replace json_search json_set json_table json_type
		json_unquote json_valid json_value
		regexp_instr regexp_replace regexp_substr
		point linestring polygon multipoint multilinestring multipolygon geometrycollection
		st_area st_asbinary st_astext st_aswkb st_aswkt st_asgeojson st_centroid
		st_contains st_convexhull st_crosses st_dimension st_disjoint
		st_distance st_distance_sphere st_endpoint st_envelope st_equals st_exteriorring
		st_geomcollfromtext st_geomcollfromwkb st_geometrycollectionfromtext
		st_geometrycollectionfromwkb st_geometryfromtext st_geometryfromwkb st_geometryn
		st_geometrytype st_geomfromgeojson st_geomfromtext st_geomfromwkb st_interiorringn
		st_intersects st_isclosed st_isempty st_issimple st_length
		st_linefromtext st_linefromwkb st_linestringfromtext st_linestringfromwkb
		st_mlinefromtext st_mlinefromwkb st_mpointfromtext st_mpointfromwkb
		st_mpolyfromtext st_mpolyfromwkb st_multilinestringfromtext
		st_multilinestringfromwkb st_multipointfromtext st_multipointfromwkb
		st_multipolygonfromtext st_multipolygonfromwkb st_numgeometries
		st_numinteriorrings st_numpoints st_overlaps st_pointfromtext st_pointfromwkb
		st_pointn st_polyfromtext st_polyfromwkb st_polygonfromtext st_polygonfromwkb
		st_srid st_startpoint st_touches st_within st_x st_y
		mbrcontains mbrdisjoint mbrintersects mbroverlaps mbrtouches mbrwithin
	`
	// MariaDB 10.11 only.
	mariadbFuncs = `
		chr lengthb crc32c natural_sort_key sformat to_char sys_guid add_months nvl nvl2
		median percentile_cont percentile_disc
		json_compact json_detailed json_equals json_exists json_loose json_normalize
		json_query
		column_add column_check column_create column_delete column_exists column_get
		column_json column_list
		st_boundary st_isring st_relate mbrequal
		area asbinary astext aswkb aswkt boundary centroid contains convexhull
		crosses dimension disjoint endpoint envelope equals exteriorring geomcollfromtext
		geomcollfromwkb geometrycollectionfromtext geometryfromtext geometryfromwkb
		geometryn geometrytype geomfromtext geomfromwkb glength interiorringn intersects
		isclosed isempty isring issimple linefromtext linefromwkb linestringfromtext
		mlinefromtext mpointfromtext mpolyfromtext numgeometries numinteriorrings
		numpoints overlaps pointfromtext pointfromwkb pointn polyfromtext polyfromwkb
		polygonfromtext srid startpoint touches within x y
	`
	// MySQL 8.0 only.
	mysqlFuncs = `
		any_value grouping regexp_like bin_to_uuid uuid_to_bin is_uuid
		format_bytes format_pico_time
		json_schema_valid json_schema_validation_report json_storage_size json_storage_free
		st_isvalid st_simplify st_latitude st_longitude st_geohash st_latfromgeohash
		st_longfromgeohash st_pointfromgeohash st_swapxy st_validate
		mbrcoveredby mbrcovers mbrequals
	`
)

// funcArity bounds the argument count of names that, on MariaDB, are
// built-ins only at these arities: MariaDB's grammar has POINT(x, y) and
// LINESTRING(p, ...) as keyword functions, and any other arity is parsed
// as a call of a stored function of that name.
var funcArity = map[string][2]int{
	"point":              {2, 2},
	"linestring":         {1, -1},
	"polygon":            {1, -1},
	"multipoint":         {1, -1},
	"multilinestring":    {1, -1},
	"multipolygon":       {1, -1},
	"geometrycollection": {1, -1},
}

var (
	mariadbBuiltins = map[string]bool{}
	mysqlBuiltins   = map[string]bool{}
	anyBuiltins     = map[string]bool{}
)

func init() {
	for _, f := range strings.Fields(commonFuncs) {
		mariadbBuiltins[f], mysqlBuiltins[f], anyBuiltins[f] = true, true, true
	}
	for _, f := range strings.Fields(mariadbFuncs) {
		mariadbBuiltins[f], anyBuiltins[f] = true, true
	}
	for _, f := range strings.Fields(mysqlFuncs) {
		mysqlBuiltins[f], anyBuiltins[f] = true, true
	}
	for d, lists := range map[*nameSet][2]string{
		&mariadbNames: {mariadbCharsets, mariadbCollations},
		&mysqlNames:   {mysqlCharsets, mysqlCollations},
	} {
		d.charsets, d.collations = map[string]bool{}, map[string]bool{}
		for _, c := range strings.Fields(lists[0]) {
			d.charsets[c], anyNames.charsets[c] = true, true
		}
		for _, c := range strings.Fields(lists[1]) {
			d.collations[c], anyNames.collations[c] = true, true
		}
		// utf8 is utf8mb3's old name on both (MariaDB: old_mode
		// UTF8_IS_UTF8MB3, the default).
		if d.charsets["utf8mb3"] {
			d.charsets["utf8"], anyNames.charsets["utf8"] = true, true
			for c := range d.collations {
				if rest, ok := strings.CutPrefix(c, "utf8mb3_"); ok {
					d.collations["utf8_"+rest], anyNames.collations["utf8_"+rest] = true, true
				}
			}
		}
	}
}

type nameSet struct{ charsets, collations map[string]bool }

var (
	mariadbNames, mysqlNames nameSet
	anyNames                 = nameSet{charsets: map[string]bool{}, collations: map[string]bool{}}
)

func (d Dialect) builtins() map[string]bool {
	switch d.Flavor {
	case MariaDB:
		return mariadbBuiltins
	case MySQL:
		return mysqlBuiltins
	}
	return anyBuiltins
}

func (d Dialect) names() nameSet {
	switch d.Flavor {
	case MariaDB:
		return mariadbNames
	case MySQL:
		return mysqlNames
	}
	return anyNames
}

// Builtins returns the built-in functions the guard allows on d, sorted.
func (d Dialect) Builtins() []string {
	var out []string
	for f := range d.builtins() {
		out = append(out, f)
	}
	slices.Sort(out)
	return out
}

// IsBuiltin reports whether name (any case) is a built-in function the
// guard allows on d. Exported for the executor's tests.
func (d Dialect) IsBuiltin(name string) bool { return d.builtins()[strings.ToLower(name)] }

func (d Dialect) knownCharset(name string) bool {
	n := strings.ToLower(name)
	if !isPlainName(n) || !d.names().charsets[n] {
		return false
	}
	return d.Charsets == nil || d.Charsets[n]
}

func (d Dialect) knownCollation(name string) bool {
	n := strings.ToLower(name)
	if !isPlainName(n) || !d.names().collations[n] {
		return false
	}
	return d.Collations == nil || d.Collations[n]
}

// isPlainName: ASCII letters, digits and underscores, 1 to 64 of them.
func isPlainName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}
