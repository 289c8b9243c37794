package sqlguard

import (
	"strings"
	"testing"
)

// Attack review (atk-sql): finding 4's bound ("pattern functions never on
// generated giant strings") holds only for REPEAT/SPACE/LPAD/RPAD/INSERT/
// REPLACE/REGEXP_REPLACE/GROUP_CONCAT/JSON_*AGG written directly inside the
// pattern call. Every statement below makes the subject of a pattern
// function large (up to megabytes) with another allowed function or through
// a derived table/CTE column, and the guard accepted all of them on the
// reviewed commit. The safe behaviour asserted: refused.
func generatedSubjects() []string {
	lit := "'" + strings.Repeat("a", 25000) + "'"
	big := "'" + strings.Repeat("a", 60000) + "'"
	return []string{
		// HEX doubles: 25 000 -> 200 000 characters.
		"SELECT LENGTH(REGEXP_REPLACE(HEX(HEX(HEX(" + lit + "))), '3', '33'))",
		// EXPORT_SET repeats its on-string 64 times: 60 000 -> 3.84 MB.
		"SELECT LENGTH(REGEXP_REPLACE(EXPORT_SET(18446744073709551615, " + big + ", '', '', 64), 'a', 'bb'))",
		// A generator in a derived table or CTE is not "inside" the pattern call.
		"SELECT LENGTH(REGEXP_REPLACE(s, 'a', 'bb')) FROM (SELECT REPEAT('a', 10000) AS s) AS t",
		"SELECT LENGTH(REGEXP_REPLACE(CONCAT(s,s,s,s,s,s,s,s,s,s), 'a', 'bb')) FROM (SELECT REPEAT('a', 10000) AS s) AS t",
		"WITH t AS (SELECT REPEAT('a', 10000) AS s) SELECT LENGTH(REPLACE(s, 'a', 'bb')) FROM t",
		// Other growing functions.
		"SELECT LENGTH(REGEXP_REPLACE(TO_BASE64(TO_BASE64(" + lit + ")), 'a', 'bb'))",
		"SELECT LOCATE('b', CONCAT(HEX(HEX(" + lit + ")), 'b'))",
		"SELECT LENGTH(REGEXP_REPLACE(CONCAT_WS(" + lit + ",'a','a','a','a','a','a','a','a','a'), 'a', 'bb'))",
	}
}

func TestAttackReviewGeneratedSubjects(t *testing.T) {
	for _, c := range generatedSubjects() {
		short := c
		if len(short) > 110 {
			short = short[:55] + "..." + short[len(short)-55:]
		}
		if _, err := Check(c, Policy{}); err == nil {
			t.Errorf("accepted a pattern function over a generated large string: %s", short)
		}
	}
}
