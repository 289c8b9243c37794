package sqlexec

import (
	"database/sql"
	"encoding/json"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/google/go-cmp/cmp"
)

func TestConvert(t *testing.T) {
	cases := map[string]struct {
		typ  string
		in   sql.RawBytes
		want string // JSON
	}{
		"null":           {"INT", nil, `null`},
		"null-type":      {"NULL", sql.RawBytes(""), `null`},
		"int":            {"INT", sql.RawBytes("-42"), `-42`},
		"big-unsigned":   {"UNSIGNED BIGINT", sql.RawBytes("18446744073709551615"), `18446744073709551615`},
		"year":           {"YEAR", sql.RawBytes("2024"), `2024`},
		"decimal-exact":  {"DECIMAL", sql.RawBytes("12345678901234567890.123456789"), `"12345678901234567890.123456789"`},
		"double":         {"DOUBLE", sql.RawBytes("1.5e300"), `1.5e+300`},
		"float":          {"FLOAT", sql.RawBytes("0.1"), `0.1`},
		"date":           {"DATE", sql.RawBytes("2024-02-29"), `"2024-02-29"`},
		"datetime":       {"DATETIME", sql.RawBytes("2024-02-29 23:59:59"), `"2024-02-29T23:59:59"`},
		"datetime-micro": {"TIMESTAMP", sql.RawBytes("2024-02-29 23:59:59.123456"), `"2024-02-29T23:59:59.123456"`},
		"zero-date":      {"DATETIME", sql.RawBytes("0000-00-00 00:00:00"), `"0000-00-00T00:00:00"`},
		"time":           {"TIME", sql.RawBytes("-838:59:59"), `"-838:59:59"`},
		"bit":            {"BIT", sql.RawBytes{0x01, 0x00}, `256`},
		"blob":           {"BLOB", sql.RawBytes{0, 0xff, 'a'}, `"AP9h"`},
		"varbinary":      {"VARBINARY", sql.RawBytes("\x00"), `"AA=="`},
		"geometry":       {"GEOMETRY", sql.RawBytes{1, 2}, `"AQI="`},
		"text":           {"VARCHAR", sql.RawBytes("é \"q\" \n"), `"é \"q\" \n"`},
		"bad-utf8":       {"TEXT", sql.RawBytes("a\xffb"), "\"a\ufffdb\""},
		"json-column":    {"JSON", sql.RawBytes(`{"a":1}`), `"{\"a\":1}"`},
		"enum":           {"ENUM", sql.RawBytes("paid"), `"paid"`},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			b, err := json.Marshal(convert(c.typ, c.in))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(c.want, string(b)); diff != "" {
				t.Errorf("(-want,+got):\n%s", diff)
			}
		})
	}
}

func TestTimeLimitStatement(t *testing.T) {
	e := &execution{o: Options{ServerTimeout: 2500 * time.Millisecond}}
	e.mariadb = true
	if got, want := e.timeLimitStatement(), "SET SESSION max_statement_time = 2.500"; got != want {
		t.Errorf("MariaDB: %q, want %q", got, want)
	}
	e.mariadb = false
	if got, want := e.timeLimitStatement(), "SET SESSION max_execution_time = 2500"; got != want {
		t.Errorf("MySQL: %q, want %q", got, want)
	}
}

func TestHardenOverridesTheDSN(t *testing.T) {
	cfg, err := mysql.ParseDSN("u:p@tcp(db:3306)/x?multiStatements=true&interpolateParams=true&allowAllFiles=true&parseTime=true&sql_mode=%27ANSI_QUOTES%27&max_statement_time=0")
	if err != nil {
		t.Fatal(err)
	}
	harden(cfg, 5*time.Second)
	if cfg.MultiStatements || cfg.InterpolateParams || cfg.AllowAllFiles || cfg.ParseTime || len(cfg.Params) != 0 {
		t.Errorf("not hardened: %+v", cfg)
	}
	if cfg.Collation != "utf8mb4_general_ci" || cfg.Timeout != 5*time.Second {
		t.Errorf("collation %q timeout %v", cfg.Collation, cfg.Timeout)
	}
}

func TestScrub(t *testing.T) {
	dsn := "analyst:s3cr3t-pw@tcp(db.internal:3306)/shop"
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	s := scrubber{dsn: dsn, cfg: cfg}
	got := s.scrub("Access denied for user 'analyst'@'10.0.0.1' (using password: YES) dialing db.internal:3306 with " + dsn + " and s3cr3t-pw")
	want := "Access denied for user '<user>'@'10.0.0.1' (using password: YES) dialing <address> with <dsn> and <password>"
	if got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}
