package row

import "fmt"

// Kind is the changelog kind of a row, with Flink's RowKind byte values.
type Kind uint8

// The changelog kinds. The byte values equal Flink's RowKind.toByteValue().
const (
	Insert       Kind = 0 // +I
	UpdateBefore Kind = 1 // -U
	UpdateAfter  Kind = 2 // +U
	Delete       Kind = 3 // -D
)

var kindShort = [...]string{"+I", "-U", "+U", "-D"}

// String returns Flink's short string: +I, -U, +U or -D.
func (k Kind) String() string {
	if int(k) < len(kindShort) {
		return kindShort[k]
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// IsAccumulate reports whether k adds a row (+I, +U) rather than retracts one.
func (k Kind) IsAccumulate() bool { return k == Insert || k == UpdateAfter }

// Valid reports whether k is one of the four kinds.
func (k Kind) Valid() bool { return k <= Delete }

// ParseKind reads a short string (+I, -U, +U, -D) or Flink's long names
// (INSERT, UPDATE_BEFORE, UPDATE_AFTER, DELETE).
func ParseKind(s string) (Kind, error) {
	switch s {
	case "+I", "INSERT":
		return Insert, nil
	case "-U", "UPDATE_BEFORE":
		return UpdateBefore, nil
	case "+U", "UPDATE_AFTER":
		return UpdateAfter, nil
	case "-D", "DELETE":
		return Delete, nil
	}
	return 0, fmt.Errorf("row: unknown changelog kind %q (want +I, -U, +U or -D)", s)
}

// MarshalText implements encoding.TextMarshaler.
func (k Kind) MarshalText() ([]byte, error) {
	if !k.Valid() {
		return nil, fmt.Errorf("row: invalid kind %d", uint8(k))
	}
	return []byte(k.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (k *Kind) UnmarshalText(b []byte) error {
	v, err := ParseKind(string(b))
	if err != nil {
		return err
	}
	*k = v
	return nil
}
