package registry

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/easyautoml/dbharness/dynamic"
)

// appendLockTTL bounds how long a crashed append can keep a machine's
// table locked.
const appendLockTTL = 5 * time.Minute

// AppendToMachine appends a data frame into the machine's data table, as
// the platform's ML code does: it takes the machine's
// MachineTableLockWrite for the duration, writes the frame with
// dynamic.Append through q, records a DataLinesOperation for userID, and
// gives the lock back. The lock and the record go through the repository's
// handle; q is where the rows go: the same handle (the platform's fix), or
// a separate connection (its bug, on purpose).
//
// The user must be allowed to see the machine (see [Repo.GetMachineForUser]):
// otherwise the answer is [ErrNotFound], and nothing is locked or written.
// A lock held by someone else gives a *LockHeldError at once, before any
// row is written.
func (r *Repo) AppendToMachine(ctx context.Context, q dynamic.Querier, machineID, userID int64, f *dynamic.Frame, opts ...dynamic.Option) (dynamic.Result, error) {
	m, err := r.GetMachineForUser(ctx, userID, machineID)
	if err != nil {
		return dynamic.Result{}, err
	}
	lock, err := r.AcquireTableLock(ctx, machineID, fmt.Sprintf("append by user %d", userID), appendLockTTL)
	if err != nil {
		return dynamic.Result{}, err
	}
	res, err := dynamic.Append(ctx, q, r.Dialect(), m.DataTableName, f, opts...)
	if err == nil {
		_, err = r.RecordDataLinesOperation(ctx, DataLinesOperation{
			MachineID: machineID, UserID: userID, RowsCount: res.Rows,
			ColumnsCount: len(f.Names()), ColumnNames: f.Names(),
		})
	}
	if rerr := r.ReleaseTableLock(context.WithoutCancel(ctx), lock); rerr != nil && err == nil {
		err = rerr
	}
	if err != nil {
		return res, errors.Join(fmt.Errorf("registry: appending to machine %d (%s)", machineID, m.DataTableName), err)
	}
	return res, nil
}
