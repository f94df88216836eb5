package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/emfa/emfa/store"
)

// queueEvents adds evs, pending and leased to none, on q, a statement a batch of them
// (inBatches), not one an event: on PostgreSQL each was a round trip, 5,000 of a 5,000
// user delivery's. An event queued before, or before in evs, is left out (ON CONFLICT DO
// NOTHING, which skips a row of the statement's own as one of before), and so not
// counted: it returns how many it added. Rows are numbered as they come in VALUES, so
// seqs are evs' order. A batch the database refuses is named by its first and last
// events: the database names no row.
func queueEvents(ctx context.Context, q execContext, evs []store.QueuedEvent, now time.Time) (int, error) {
	added := 0
	err := inBatches(evs, func(batch []store.QueuedEvent) error {
		res, err := q.ExecContext(ctx, insertEventsSQL(len(batch))+` ON CONFLICT (source, event_id) DO NOTHING`,
			eventsArgs(batch, "", time.Time{}, now)...)
		n, err := affected(res, err)
		if err != nil {
			return fmt.Errorf("events %q to %q: %w", batch[0].EventID, batch[len(batch)-1].EventID, err)
		}
		added += n
		return nil
	})
	return added, err
}
