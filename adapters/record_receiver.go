package adapters

import (
	"context"
	"slices"

	"github.com/pullkit/broker"
)

// tracked is a record on its way to a worker: the copy handed to the
// handler and its watermark entry.
type tracked struct {
	rec broker.Record
	ent *entry
}

type trackedBatch struct {
	recs []broker.Record
	ents []*entry
}

func nothing[E any](E) {}

// receiveRecords is the log engine: a lane per worker, records routed by
// partition (or key), acks through the watermark.
func receiveRecords(ctx context.Context, src *source[broker.Record], cfg *config, revs *revocations, h func(context.Context, broker.Record)) error {
	wm := newWatermark(cfg.maxPending, src.notifier())
	defer wm.close()
	p := src.openSingle(ctx, &openOpts{cfg: cfg, revs: revs})
	workers, byKey, report := cfg.workers, cfg.byKey, cfg.onError
	pl := pool[broker.Record, tracked]{
		workers: workers, lanes: workers, buf: cfg.buffer,
		route: func(ctx context.Context, r broker.Record, out []routed[tracked]) ([]routed[tracked], error) {
			stamp := wm.stamp()
			if err := wm.wait(ctx); err != nil {
				return out, err
			}
			hr, e, ok := wm.track(r, stamp)
			if !ok {
				return out, nil // revoked while it waited: the log replays it
			}
			lane := laneOf(&r, byKey, workers)
			return append(out, routed[tracked]{lane: lane, v: tracked{rec: hr, ent: e}}), nil
		},
		// Not handed out: not committed, and its entry holds the
		// watermark back, which is what makes the log replay it.
		release: nothing[tracked],
		work: func(ctx context.Context, t tracked) {
			if t.ent.part.revoked.Load() {
				return // buffered when its partition was revoked: drop it
			}
			protect(ctx, h, t.rec, nothing[broker.Record], report)
		},
	}
	return pl.run(ctx, p)
}

func receiveRecordBatches(ctx context.Context, src *source[broker.Record], cfg *config, revs *revocations, h func(context.Context, []broker.Record)) error {
	wm := newWatermark(cfg.maxPending, src.notifier())
	defer wm.close()
	p := src.openBatch(ctx, &openOpts{cfg: cfg, revs: revs})
	workers, byKey, report := cfg.workers, cfg.byKey, cfg.onError
	var lanes, counts []int // reused by route, which only the pulling goroutine runs
	pl := pool[[]broker.Record, trackedBatch]{
		workers: workers, lanes: workers, buf: cfg.buffer,
		route: func(ctx context.Context, b []broker.Record, out []routed[trackedBatch]) ([]routed[trackedBatch], error) {
			stamp := wm.stamp()
			if err := wm.wait(ctx); err != nil {
				return out, err
			}
			// Split by lane, keeping the order: each sub-batch goes to the
			// one worker that owns its partitions (or keys). Count first,
			// so that each sub-batch is allocated once, at its size.
			lanes = slices.Grow(lanes[:0], len(b))[:len(b)]
			counts = counts[:0]
			for i := range b {
				lanes[i] = laneOf(&b[i], byKey, workers)
				j := 0
				for j < len(out) && out[j].lane != lanes[i] {
					j++
				}
				if j == len(out) {
					out = append(out, routed[trackedBatch]{lane: lanes[i]})
					counts = append(counts, 0)
				}
				counts[j]++
			}
			for j := range out {
				out[j].v = trackedBatch{recs: make([]broker.Record, 0, counts[j]), ents: make([]*entry, 0, counts[j])}
			}
			for i := range b {
				j := 0
				for out[j].lane != lanes[i] {
					j++
				}
				hr, e, ok := wm.track(b[i], stamp)
				if !ok {
					continue // revoked while the batch waited
				}
				out[j].v.recs = append(out[j].v.recs, hr)
				out[j].v.ents = append(out[j].v.ents, e)
			}
			return out, nil
		},
		release: nothing[trackedBatch],
		work: func(ctx context.Context, t trackedBatch) {
			recs := t.recs[:0]
			for i, e := range t.ents {
				if !e.part.revoked.Load() {
					recs = append(recs, t.recs[i])
				}
			}
			if len(recs) == 0 {
				return // never an empty batch
			}
			protect(ctx, h, recs, nothing[[]broker.Record], report)
		},
	}
	return pl.run(ctx, p)
}
