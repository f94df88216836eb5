package adapter

import (
	"fmt"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/store"
)

// TestSCIMManyVariantFilterReadsItsUsers: a displayName or e-mail filter whose
// value has more than maxFoldKeys case variants (a Cyrillic or Greek name of seven
// letters or more: 2^7 variants) read every user, 1,000 at a time. The store selects
// the users whose folded value starts with one of the folded variants of the value's
// longest prefix of at most maxFoldKeys of them (every user when more than a page of
// them start so); the answer is the full scan's.
func TestSCIMManyVariantFilterReadsItsUsers(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
		const n = 250 // three pages of userPage
		numberedUsers(t, st, now, n, func(i int, name string, p *store.Profile) {
			if i >= 100 && i < 220 {
				p.DisplayName = fmt.Sprintf("Пользователь %05d", i) // more than a page start alike
			}
			switch i {
			case 10:
				p.Email, p.DisplayName = "александра@пример.рф", "Александра Петрова"
			case 11:
				p.Email, p.DisplayName = "АЛЕКСАНДРА@ПРИМЕР.РФ", "АЛЕКСАНДРА ПЕТРОВА"
			case 12:
				p.Email, p.DisplayName = "александр@пример.рф", "Александра Петров" // a prefix alike, not equal
			case 13:
				p.DisplayName = "Александра Петрова\U0010FFFF" // longer
			case 14:
				p.DisplayName = "σίσυφος"
			case 15:
				p.DisplayName = "ΣΊΣΥΦΟΣ"
			case 16:
				p.DisplayName = "σίσυφοσ"
			case 17:
				p.DisplayName = "σίσυφοι"
			case 18:
				p.DisplayName = "александра петрова"
			case 19:
				p.DisplayName = "\u0430лександра петрова" // as 18
			case 20:
				p.Email, p.DisplayName = "", ""
			}
		})
		counted := &listCounter{Store: st}
		h, ref := readingHarness(t, st, counted, userPage), readingHarness(t, st, unselecting{st}, userPage)
		for _, c := range []struct {
			query string
			total int
			pages int // most pages of users read
		}{
			{`filter=displayName eq "александра петрова"`, 4, 1},
			{`filter=displayName eq "АЛЕКСАНДРА ПЕТРОВА"`, 4, 1},
			{`filter=displayName eq "Александра Петров"`, 1, 1},
			{`filter=displayName eq "σίσυφος"`, 3, 1},
			{`filter=displayName eq "ΣΊΣΥΦΟΙ"`, 1, 1},
			{`filter=displayName eq "σίσυφοςς"`, 0, 1},
			{`filter=emails.value eq "Александра@Пример.рф"`, 2, 1},
			{`filter=emails[type eq "work"].value eq "АЛЕКСАНДР@ПРИМЕР.РФ"`, 1, 1},
			{`filter=displayName eq "Александра Петрова\U0010FFFF"`, 1, 1},
			{`filter=displayName eq "александра петрова" and emails.value eq "александра@пример.рф"`, 2, 1},
			{`filter=displayName eq "александра петрова" and active eq true`, -1, 1},
			// 120 users start as "пользо" does: a page of them, then every user.
			{`filter=displayName eq "ПОЛЬЗОВАТЕЛЬ 00124"`, 1, 4},
			{`filter=displayName eq "пользователь 00124" and emails.value eq "user00124@example.com"`, 1, 1},
		} {
			got := sameListing(t, h, ref, counted, c.query, c.pages)
			if c.total >= 0 && got["totalResults"] != float64(c.total) {
				t.Errorf("%s: totalResults %v, want %d", c.query, got["totalResults"], c.total)
			}
		}
	})
}
