// Package statemigrate keeps a job's saved state usable when its logic
// changes: a new metric, a new join column, a dropped column. It compares
// operator-graph manifests (manifest.Manifest, written by every job next to
// its state), rewrites saved state into a new schema offline, and drives a
// bypass rebuild when the state cannot be migrated.
//
// # Plans
//
// NewPlan(old, new) gives a per-operator verdict with the reasons:
//
//   - unchanged: the state fits as it is;
//   - migrate: the operators, edges and keys are the same; columns were
//     appended (a join side fills them with null or a declared default; an
//     agg's new aggregates start empty and count from the migration point),
//     dropped, reordered, or a join column's type widened (int32 to int64,
//     float32 to float64, a decimal's precision up: manifest.Widens).
//     Appended columns are a metadata change (saved values decode as they
//     are); the others rewrite the values;
//   - rebuild: a changed or added group/join key, a changed aggregate
//     function, another column type, an added or removed operator or edge, a
//     changed join type. Rebuild the state with a side job (Bypass);
//   - fix: the new manifest is no valid successor (version not bumped, a
//     non-nullable column added without default).
//
// # Apply
//
// Apply(ctx, src, plan, out, opts) streams a stopped job's state (or a
// checkpoint) into a new state directory in the new schema. The source is
// opened read-only; the output is built in out.partial from sstables of
// bounded size ingested into a fresh store (memory does not grow with the
// state), verified (key and row counts per operator, sample decodes in the
// new schema) and renamed into place; re-running a completed migration is
// a no-op. The new manifest marks each added aggregate with counted_from
// (the time and the source offsets of the migration).
//
// # Bypass rebuild
//
// Bypass runs seven stages, each logged and persisted atomically in
// WorkDir/bypass.json so that Run resumes after a crash: start a side job
// with the new logic from the earliest offsets into its own state and
// output topic; wait until its consumer lag (kadm) is down; compare its
// output with the online job's (CompareOutputs); stop the online job at a
// committed state; bring both jobs to the same offsets (the one behind runs
// forward with StopAt) and checkpoint the side job; check the committed
// offsets per partition, so the switched job neither skips nor repeats
// input; start the online job with the new logic on the checkpoint. Abort
// leaves the online job as it was. Jobs are started and stopped through
// the Jobs interface; CommandJobs runs them as processes (hotcold migrate
// bypass).
//
// # Example
//
//	old, _ := manifest.Read("state/hotcold-manifest.yaml")
//	new, _ := manifest.Read("new.yaml")
//	plan := statemigrate.NewPlan(old, new)
//	fmt.Print(plan) // the verdict table
//	res, err := statemigrate.Apply(ctx, "state", plan, "state-v2", statemigrate.ApplyOptions{Logger: log})
//
// # Concurrency
//
// Plans are immutable. Apply and a Bypass are used from one goroutine;
// several Applies into different outputs may run at once.
//
// # Errors
//
// Errors say what to do next: a plan that needs a rebuild makes Apply fail
// with the plan; a running job's state (locked) is refused with a hint to
// stop it or migrate a checkpoint; a failed bypass stage leaves the
// workflow at the last completed stage, to Run again or Abort.
package statemigrate
