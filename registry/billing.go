package registry

import (
	"context"
	"fmt"
)

const billingCols = "id, operation_id, user_id, machine_id, cost_cents, currency, created_at"

func scanBilling(s rowScanner) (Billing, error) {
	var b Billing
	err := s.Scan(&b.ID, &b.OperationID, &b.UserID, &b.MachineID, &b.CostCents, &b.Currency, timeDest{&b.CreatedAt})
	return b, err
}

// checkCurrency refuses anything but three upper-case ASCII letters.
func checkCurrency(c string) error {
	if len(c) != 3 {
		return invalid("billing: currency %q is not a three-letter code", c)
	}
	for i := 0; i < 3; i++ {
		if c[i] < 'A' || c[i] > 'Z' {
			return invalid("billing: currency %q is not a three-letter code", c)
		}
	}
	return nil
}

// RecordOperation stores a billable operation and its billing: costCents
// (not negative) in currency (an ISO 4217 code such as "USD"), charged to
// the operation's user and machine. Both rows are written in one
// transaction when the repository's handle can begin one. When the
// operation names a machine, its user must be allowed to see it (see
// [Repo.GetMachineForUser]): otherwise the answer is [ErrNotFound], and
// nothing is written.
func (r *Repo) RecordOperation(ctx context.Context, op Operation, costCents int64, currency string) (Operation, Billing, error) {
	if err := checkID("operation: user", op.UserID); err != nil {
		return Operation{}, Billing{}, err
	}
	if err := checkOptionalID("operation: machine", op.MachineID); err != nil {
		return Operation{}, Billing{}, err
	}
	if err := checkText("operation: kind", op.Kind, 64); err != nil {
		return Operation{}, Billing{}, err
	}
	if costCents < 0 {
		return Operation{}, Billing{}, invalid("billing: cost %d cents is negative", costCents)
	}
	if err := checkCurrency(currency); err != nil {
		return Operation{}, Billing{}, err
	}
	var b Billing
	err := r.inTx(ctx, func(r *Repo) error {
		if op.MachineID != nil {
			if _, err := r.GetMachineForUser(ctx, op.UserID, *op.MachineID); err != nil {
				return fmt.Errorf("registry: user %d: record %q operation: %w", op.UserID, op.Kind, err)
			}
		}
		now := r.now()
		id, err := r.insert(ctx,
			"INSERT INTO operations (user_id, machine_id, kind, created_at) VALUES (?, ?, ?, ?)",
			op.UserID, nullable(op.MachineID), op.Kind, r.t(now))
		if err != nil {
			return r.wrap(err, "user %d: record %q operation", op.UserID, op.Kind)
		}
		op.ID, op.CreatedAt = id, now
		b = Billing{OperationID: id, UserID: op.UserID, MachineID: op.MachineID, CostCents: costCents, Currency: currency, CreatedAt: now}
		b.ID, err = r.insert(ctx,
			"INSERT INTO billings (operation_id, user_id, machine_id, cost_cents, currency, created_at) VALUES (?, ?, ?, ?, ?, ?)",
			b.OperationID, b.UserID, nullable(b.MachineID), b.CostCents, b.Currency, r.t(now))
		return r.wrap(err, "operation %d: billing", id)
	})
	if err != nil {
		return Operation{}, Billing{}, err
	}
	return op, b, nil
}

// ListBillings returns the user's billings, in the order they were made.
func (r *Repo) ListBillings(ctx context.Context, userID int64) ([]Billing, error) {
	rows, err := r.query(ctx, "SELECT "+billingCols+" FROM billings WHERE user_id = ? ORDER BY id", userID)
	out, err := collect(rows, err, scanBilling)
	return out, r.wrap(err, "billings of user %d", userID)
}
