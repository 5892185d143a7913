package coldstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/apache/arrow/go/v17/parquet"
	"github.com/apache/arrow/go/v17/parquet/compress"
	"github.com/apache/arrow/go/v17/parquet/file"
	"github.com/apache/arrow/go/v17/parquet/pqarrow"

	"github.com/hotcold/hotcold/row"
)

// ParquetSource streams the rows of one or more Parquet files, file by
// file and row group by row group, in record batches of bounded size: its
// memory use does not grow with the file size. A background goroutine,
// owned by the source and stopped by Close, decodes the next batch while
// the caller consumes the current one.
//
// Column types come from the Parquet schema (an embedded Arrow schema is
// ignored, see ignoreArrowSchema). Every file must have the same columns
// (names and types, in order) as the first one. Types hotcold does not model directly are widened on the fly:
// int8/int16/uint8/uint16 to int32, uint32 to int64, timestamp[s] to
// timestamp[ms] and timestamp[ns] (e.g. Hive's INT96) to timestamp[us].
//
// Errors name the file, and the row group and row where one is involved; a
// corrupt file is an error, never a panic.
type ParquetSource struct {
	files     []*parquetFile
	schema    *row.Schema
	arrow     *arrow.Schema    // after widening
	conv      []widenFunc      // per column; nil when the column needs no widening
	fileTypes []arrow.DataType // per column, as in the files

	batchRows int64
	cancel    context.CancelFunc
	batches   chan parquetBatch
	wg        sync.WaitGroup
	closeOnce sync.Once

	// consumer state
	cur       parquetBatch
	rr        *row.RecordReader // reads cur.rec
	curRow    int
	err       error
	readBytes atomic.Int64 // bytes of fully consumed files plus the current file's share
}

type parquetFile struct {
	path      string
	name      string // what errors and Names call it (the path, or the object URL it was downloaded from)
	size      int64
	rows      int64
	rowGroups int
}

type parquetBatch struct {
	rec      arrow.Record
	file     int
	rowGroup int
	first    int64 // row of the row group where rec starts
	fileRow  int64 // row of the file where rec starts
	err      error
}

// ParquetBatchRows is the number of rows ParquetSource decodes at a time.
const ParquetBatchRows = 64 << 10

// OpenParquet opens Parquet files for reading as one Source. It reads every
// footer first, so a missing, corrupt or schema-mismatched file is reported
// before any row is read. The caller must Close the source.
func OpenParquet(ctx context.Context, paths ...string) (*ParquetSource, error) {
	return OpenParquetAs(ctx, paths, paths)
}

// OpenParquetAs is OpenParquet for files known by other names (names[i]
// for paths[i], e.g. the object URLs of FetchInputs' downloads): errors,
// positions and the version's sources use the names.
func OpenParquetAs(ctx context.Context, paths, names []string) (*ParquetSource, error) {
	if len(paths) == 0 {
		return nil, errors.New("coldstore: no Parquet files given")
	}
	if len(names) != len(paths) {
		return nil, fmt.Errorf("coldstore: %d Parquet files and %d names", len(paths), len(names))
	}
	ps := &ParquetSource{batchRows: ParquetBatchRows}
	var first *arrow.Schema
	var nullable []bool
	for pi, p := range paths {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		pf, as, err := readFooter(p, names[pi])
		if err != nil {
			return nil, err
		}
		if first == nil {
			first = as
			nullable = make([]bool, len(as.Fields()))
		} else if err := sameColumns(first, as); err != nil {
			return nil, inputErr(names[pi], "%w (the first file is %s)", err, names[0])
		}
		for i, f := range as.Fields() {
			nullable[i] = nullable[i] || f.Nullable
		}
		ps.files = append(ps.files, pf)
	}
	fields := make([]arrow.Field, len(first.Fields()))
	ps.conv = make([]widenFunc, len(fields))
	for i, f := range first.Fields() {
		ps.fileTypes = append(ps.fileTypes, f.Type)
		dt, conv := widenType(f.Type)
		fields[i] = arrow.Field{Name: f.Name, Type: dt, Nullable: nullable[i]}
		ps.conv[i] = conv
	}
	ps.arrow = arrow.NewSchema(fields, nil)
	s, err := row.FromArrow(ps.arrow, nil, 1)
	if err != nil {
		return nil, inputErr(paths[0], "%w", err)
	}
	ps.schema = s
	rctx, cancel := context.WithCancel(context.Background())
	ps.cancel = cancel
	ps.batches = make(chan parquetBatch, 2)
	ps.wg.Add(1)
	go ps.produce(rctx)
	return ps, nil
}

// readFooter opens file fpath and reads its footer and Arrow schema; path
// is the name errors use.
func readFooter(fpath, path string) (pf *parquetFile, as *arrow.Schema, err error) {
	f, err := os.Open(fpath)
	if err != nil {
		return nil, nil, fmt.Errorf("coldstore: open Parquet file: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, nil, inputErr(path, "%w", err)
	}
	if st.IsDir() {
		return nil, nil, inputErr(path, "is a directory: pass the Parquet files inside it (e.g. %s)", filepath.Join(path, "*.parquet"))
	}
	defer func() {
		if r := recover(); r != nil {
			err = inputErr(path, "corrupt Parquet footer: %v", r)
		}
	}()
	rdr, err := file.NewParquetReader(f)
	if err != nil {
		return nil, nil, inputErr(path, "not a Parquet file or corrupt footer: %w", err)
	}
	ignoreArrowSchema(rdr)
	md := rdr.MetaData()
	as, err = pqarrow.FromParquet(md.Schema, &pqarrow.ArrowReadProperties{}, md.KeyValueMetadata())
	if err != nil {
		return nil, nil, inputErr(path, "unsupported Parquet schema: %w", err)
	}
	for _, fl := range as.Fields() {
		dt, _ := widenType(fl.Type)
		if _, err := row.FromArrow(arrow.NewSchema([]arrow.Field{{Name: fl.Name, Type: dt, Nullable: true}}, nil), nil, 1); err != nil {
			return nil, nil, &InputError{Position: path, Column: fl.Name, Err: errors.Unwrap(err)}
		}
	}
	var rows int64
	for rg := 0; rg < rdr.NumRowGroups(); rg++ {
		if err := checkRowGroup(rdr, rg, len(as.Fields()), st.Size()); err != nil {
			return nil, nil, inputErr(fmt.Sprintf("%s: row group %d", path, rg), "corrupt Parquet metadata: %w", err)
		}
		rows += md.RowGroup(rg).NumRows()
	}
	return &parquetFile{path: fpath, name: path, size: st.Size(), rows: rows, rowGroups: rdr.NumRowGroups()}, as, nil
}

func sameColumns(a, b *arrow.Schema) error {
	af, bf := a.Fields(), b.Fields()
	if len(af) != len(bf) {
		return fmt.Errorf("has %d columns, want %d", len(bf), len(af))
	}
	for i := range af {
		if af[i].Name != bf[i].Name {
			return fmt.Errorf("column %d is %q, want %q", i, bf[i].Name, af[i].Name)
		}
		if !arrow.TypeEqual(af[i].Type, bf[i].Type) {
			return fmt.Errorf("column %q is %s, want %s", bf[i].Name, bf[i].Type, af[i].Type)
		}
	}
	return nil
}

// produce decodes batches in order and sends them to ps.batches.
func (ps *ParquetSource) produce(ctx context.Context) {
	defer ps.wg.Done()
	defer close(ps.batches)
	for i := range ps.files {
		if err := ps.produceFile(ctx, i); err != nil {
			if ctx.Err() == nil {
				select {
				case ps.batches <- parquetBatch{err: err, file: i}:
				case <-ctx.Done():
				}
			}
			return
		}
	}
}

func (ps *ParquetSource) produceFile(ctx context.Context, fi int) (err error) {
	pf := ps.files[fi]
	rg := -1
	defer func() {
		if r := recover(); r != nil {
			where := ""
			if rg >= 0 {
				where = fmt.Sprintf(": row group %d", rg)
			}
			err = inputErr(pf.name+where, "corrupt Parquet data: %v", r)
		}
	}()
	f, err := os.Open(pf.path)
	if err != nil {
		return fmt.Errorf("coldstore: %w", err)
	}
	defer f.Close()
	mem := newBoundedAllocator()
	rdr, err := file.NewParquetReader(f, file.WithReadProps(parquet.NewReaderProperties(mem)))
	if err != nil {
		return inputErr(pf.name, "not a Parquet file or corrupt footer: %w", err)
	}
	ignoreArrowSchema(rdr)
	fr, err := pqarrow.NewFileReader(rdr, pqarrow.ArrowReadProperties{BatchSize: ps.batchRows}, mem)
	if err != nil {
		return inputErr(pf.name, "%w", err)
	}
	var fileRow int64
	for rg = 0; rg < rdr.NumRowGroups(); rg++ {
		pos := fmt.Sprintf("%s: row group %d", pf.name, rg)
		if err := checkRowGroup(rdr, rg, len(ps.conv), pf.size); err != nil {
			return inputErr(pos, "corrupt Parquet metadata: %w", err)
		}
		if err := checkPages(f, pf.size, rdr, rg, len(ps.conv)); err != nil {
			return inputErr(pos, "corrupt Parquet page: %w", err)
		}
		want := rdr.MetaData().RowGroup(rg).NumRows()
		n, err := ps.produceRowGroup(ctx, fr, fi, rg, fileRow)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			var ie *InputError
			if errors.As(err, &ie) {
				return err
			}
			return inputErr(pos, "corrupt Parquet data: %w", err)
		}
		if n != want {
			return inputErr(pos, "read %d rows, the footer says %d: the file is corrupt", n, want)
		}
		fileRow += n
	}
	return nil
}

// produceRowGroup reads one row group column by column, in this goroutine
// (pqarrow's record reader starts goroutines, in which a panic on a
// corrupt file could not be recovered), and sends its batches.
func (ps *ParquetSource) produceRowGroup(ctx context.Context, fr *pqarrow.FileReader, fi, rg int, fileRow int64) (int64, error) {
	readers := make([]*pqarrow.ColumnReader, len(ps.conv))
	defer func() {
		for _, r := range readers {
			if r != nil {
				r.Release()
			}
		}
	}()
	for i := range readers {
		leaf := fr.Manifest.Fields[i].ColIndex // flat schemas only: one leaf per field
		r, err := fr.GetFieldReader(ctx, i, map[int]bool{leaf: true}, []int{rg})
		if err != nil {
			return 0, fmt.Errorf("column %d: %w", i, err)
		}
		if r == nil {
			return 0, fmt.Errorf("column %d: no reader", i)
		}
		readers[i] = r
	}
	var first int64
	workers := min(runtime.GOMAXPROCS(0), len(readers))
	for {
		// Decode the columns of the next batch in parallel: decoding
		// Parquet is most of a load's reading time.
		cols := make([]arrow.Array, len(readers))
		errs := make([]error, len(readers))
		release := func() {
			for _, c := range cols {
				if c != nil {
					c.Release()
				}
			}
		}
		var next atomic.Int32
		var wg sync.WaitGroup
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					i := int(next.Add(1)) - 1
					if i >= len(readers) {
						return
					}
					cols[i], errs[i] = ps.nextColumn(readers[i], i)
				}
			}()
		}
		wg.Wait()
		rows := -1
		for i, a := range cols {
			if errs[i] != nil {
				release()
				return first, errs[i]
			}
			if rows < 0 {
				rows = a.Len()
			} else if a.Len() != rows {
				release()
				return first, fmt.Errorf("column %q has %d values where column %q has %d", ps.arrow.Field(i).Name, a.Len(), ps.arrow.Field(0).Name, rows)
			}
		}
		if rows <= 0 {
			release()
			return first, nil
		}
		out, err := ps.widen(cols, int64(rows))
		release()
		if err != nil {
			return first, err
		}
		b := parquetBatch{rec: out, file: fi, rowGroup: rg, first: first, fileRow: fileRow + first}
		first += int64(rows)
		select {
		case ps.batches <- b:
		case <-ctx.Done():
			out.Release()
			return first, ctx.Err()
		}
	}
}

// nextColumn decodes the next batch of column i. Arrow panics on some
// corrupt pages; the panic becomes an error naming the column.
func (ps *ParquetSource) nextColumn(r *pqarrow.ColumnReader, i int) (a arrow.Array, err error) {
	name := ps.arrow.Field(i).Name
	defer func() {
		if p := recover(); p != nil {
			if a != nil {
				a.Release()
			}
			a, err = nil, fmt.Errorf("column %q: %v", name, p)
		}
	}()
	ch, err := r.NextBatch(ps.batchRows)
	if err != nil {
		return nil, fmt.Errorf("column %q: %w", name, err)
	}
	defer ch.Release()
	switch len(ch.Chunks()) {
	case 0:
		return array.MakeArrayOfNull(memory.DefaultAllocator, ch.DataType(), 0), nil
	case 1:
		a = ch.Chunk(0)
		a.Retain()
		return a, nil
	}
	a, err = array.Concatenate(ch.Chunks(), memory.DefaultAllocator)
	if err != nil {
		return nil, fmt.Errorf("column %q: %w", name, err)
	}
	return a, nil
}

// checkRowGroup validates the footer metadata of a row group before any
// reader relies on it (Arrow's readers panic on some damage, in goroutines
// of their own).
func checkRowGroup(rdr *file.Reader, rg, ncols int, size int64) error {
	md := rdr.MetaData().RowGroup(rg)
	if md.NumRows() < 0 {
		return fmt.Errorf("negative row count %d", md.NumRows())
	}
	if md.NumColumns() != ncols {
		return fmt.Errorf("%d column chunks, the schema has %d columns", md.NumColumns(), ncols)
	}
	for c := 0; c < ncols; c++ {
		cc, err := md.ColumnChunk(c)
		if err != nil {
			return fmt.Errorf("column %d: %w", c, err)
		}
		start := cc.DataPageOffset()
		if cc.HasDictionaryPage() && cc.DictionaryPageOffset() > 0 && cc.DictionaryPageOffset() < start {
			start = cc.DictionaryPageOffset()
		}
		if start < 0 || cc.TotalCompressedSize() < 0 || start+cc.TotalCompressedSize() > size || cc.NumValues() < 0 {
			return fmt.Errorf("column %d: chunk at offset %d, %d bytes, does not fit the file (%d bytes)", c, start, cc.TotalCompressedSize(), size)
		}
	}
	return nil
}

// widen makes a record of ps.arrow from the columns read from the file,
// converting the columns that need widening. The result is owned by the
// caller; cols are not released.
func (ps *ParquetSource) widen(cols []arrow.Array, rows int64) (arrow.Record, error) {
	out := make([]arrow.Array, len(cols))
	for i, c := range ps.conv {
		if !arrow.TypeEqual(cols[i].DataType(), ps.fileTypes[i]) {
			return nil, fmt.Errorf("column %q: read %s, the file's schema says %s", ps.arrow.Field(i).Name, cols[i].DataType(), ps.fileTypes[i])
		}
		if c == nil {
			out[i] = cols[i]
			continue
		}
		a, err := c(cols[i])
		if err != nil {
			return nil, fmt.Errorf("column %q: %w", ps.arrow.Field(i).Name, err)
		}
		defer a.Release() // NewRecord retains it
		out[i] = a
	}
	return array.NewRecord(ps.arrow, out, rows), nil
}

// Schema implements Source. The schema has no key and version 1.
func (ps *ParquetSource) Schema() *row.Schema { return ps.schema }

// ArrowSchema returns the Arrow schema of the rows (after widening).
func (ps *ParquetSource) ArrowSchema() *arrow.Schema { return ps.arrow }

// Rows returns the number of rows in all files, from their footers.
func (ps *ParquetSource) Rows() int64 {
	var n int64
	for _, f := range ps.files {
		n += f.rows
	}
	return n
}

// Names returns the file paths.
func (ps *ParquetSource) Names() []string {
	out := make([]string, len(ps.files))
	for i, f := range ps.files {
		out[i] = f.name
	}
	return out
}

// InputBytes returns how many bytes of the files have been consumed (an
// estimate inside the current file) and their total size.
func (ps *ParquetSource) InputBytes() (read, total int64) {
	for _, f := range ps.files {
		total += f.size
	}
	return ps.readBytes.Load(), total
}

// nextBatch releases the current batch and receives the next one.
func (ps *ParquetSource) nextBatch(ctx context.Context) error {
	if ps.err != nil {
		return ps.err
	}
	if ps.cur.rec != nil {
		ps.cur.rec.Release()
		ps.cur.rec = nil
	}
	var b parquetBatch
	var ok bool
	select {
	case b, ok = <-ps.batches:
	case <-ctx.Done():
		return ctx.Err()
	}
	if !ok {
		ps.err = io.EOF
		ps.accountBytes(len(ps.files), 0)
		return io.EOF
	}
	if b.err != nil {
		ps.err = b.err
		return b.err
	}
	ps.cur, ps.curRow = b, 0
	ps.accountBytes(b.file, b.fileRow)
	return nil
}

// nextRecord implements recordSource.
func (ps *ParquetSource) nextRecord(ctx context.Context) (arrow.Record, error) {
	if err := ps.nextBatch(ctx); err != nil {
		return nil, err
	}
	ps.curRow = int(ps.cur.rec.NumRows())
	return ps.cur.rec, nil
}

// seekRow implements recordSource.
func (ps *ParquetSource) seekRow(i int) { ps.curRow = i + 1 }

// Next implements Source. String and binary values point into the current
// record batch and are valid until the next call.
func (ps *ParquetSource) Next(ctx context.Context, r *row.Row) error {
	for ps.cur.rec == nil || ps.curRow >= int(ps.cur.rec.NumRows()) {
		if err := ps.nextBatch(ctx); err != nil {
			return err
		}
		b := ps.cur
		var err error
		if ps.rr == nil {
			ps.rr, err = ps.schema.NewRecordReader(b.rec)
		} else {
			err = ps.rr.Reset(b.rec)
		}
		if err != nil {
			ps.err = &InputError{Position: ps.Position(), Err: err}
			return ps.err
		}
	}
	if err := ps.rr.Row(ps.curRow, r); err != nil {
		ps.curRow++
		return &InputError{Position: ps.Position(), Err: err}
	}
	ps.curRow++
	return nil
}

func (ps *ParquetSource) accountBytes(file int, fileRow int64) {
	var n int64
	for i := 0; i < file && i < len(ps.files); i++ {
		n += ps.files[i].size
	}
	if file < len(ps.files) && ps.files[file].rows > 0 {
		n += int64(float64(ps.files[file].size) * float64(fileRow) / float64(ps.files[file].rows))
	}
	ps.readBytes.Store(n)
}

// Position implements Source: the file, row group and row (0-based) of the
// row last returned by Next.
func (ps *ParquetSource) Position() string {
	if ps.cur.rec == nil {
		if len(ps.files) > 0 {
			return ps.files[0].name
		}
		return "no files"
	}
	i := int64(ps.curRow - 1)
	if i < 0 {
		i = 0
	}
	return fmt.Sprintf("%s: row group %d, row %d (row %d of the file)", ps.files[ps.cur.file].name, ps.cur.rowGroup, ps.cur.first+i, ps.cur.fileRow+i)
}

// Close stops the background decoder and releases the current batch. It is
// safe to call more than once.
func (ps *ParquetSource) Close() error {
	ps.closeOnce.Do(func() {
		ps.cancel()
		for b := range ps.batches {
			if b.rec != nil {
				b.rec.Release()
			}
		}
		ps.wg.Wait()
		if ps.cur.rec != nil {
			ps.cur.rec.Release()
			ps.cur.rec = nil
		}
		if ps.err == nil {
			ps.err = errors.New("coldstore: Parquet source is closed")
		}
	})
	return nil
}

// widenFunc converts one column to its widened type; the result is owned by
// the caller.
type widenFunc func(arrow.Array) (arrow.Array, error)

// widenType maps an Arrow type hotcold does not model to one it does.
func widenType(dt arrow.DataType) (arrow.DataType, widenFunc) {
	switch t := dt.(type) {
	case *arrow.Int8Type, *arrow.Int16Type, *arrow.Uint8Type, *arrow.Uint16Type:
		return arrow.PrimitiveTypes.Int32, func(a arrow.Array) (arrow.Array, error) {
			b := array.NewInt32Builder(memory.DefaultAllocator)
			defer b.Release()
			b.Reserve(a.Len())
			for i := 0; i < a.Len(); i++ {
				if a.IsNull(i) {
					b.AppendNull()
					continue
				}
				switch x := a.(type) {
				case *array.Int8:
					b.Append(int32(x.Value(i)))
				case *array.Int16:
					b.Append(int32(x.Value(i)))
				case *array.Uint8:
					b.Append(int32(x.Value(i)))
				case *array.Uint16:
					b.Append(int32(x.Value(i)))
				}
			}
			return b.NewArray(), nil
		}
	case *arrow.Uint32Type:
		return arrow.PrimitiveTypes.Int64, func(a arrow.Array) (arrow.Array, error) {
			x := a.(*array.Uint32)
			b := array.NewInt64Builder(memory.DefaultAllocator)
			defer b.Release()
			b.Reserve(a.Len())
			for i := 0; i < a.Len(); i++ {
				if a.IsNull(i) {
					b.AppendNull()
				} else {
					b.Append(int64(x.Value(i)))
				}
			}
			return b.NewArray(), nil
		}
	case *arrow.TimestampType:
		var to arrow.TimeUnit
		var mul, div int64 = 1, 1
		switch t.Unit {
		case arrow.Second:
			to, mul = arrow.Millisecond, 1000
		case arrow.Nanosecond:
			to, div = arrow.Microsecond, 1000
		default:
			return dt, nil
		}
		nt := &arrow.TimestampType{Unit: to, TimeZone: t.TimeZone}
		return nt, func(a arrow.Array) (arrow.Array, error) {
			x := a.(*array.Timestamp)
			b := array.NewTimestampBuilder(memory.DefaultAllocator, nt)
			defer b.Release()
			b.Reserve(a.Len())
			for i := 0; i < a.Len(); i++ {
				if a.IsNull(i) {
					b.AppendNull()
					continue
				}
				v := int64(x.Value(i))
				if div > 1 {
					q := v / div
					if v%div < 0 {
						q-- // floor, so that instants before 1970 round down
					}
					v = q
				} else {
					v *= mul
				}
				b.Append(arrow.Timestamp(v))
			}
			return b.NewArray(), nil
		}
	}
	return dt, nil
}

// ParquetWriterOptions configures a ParquetWriter. The zero value is the
// defaults.
type ParquetWriterOptions struct {
	// RowGroupRows is the number of rows per row group. Default 131072.
	RowGroupRows int
	// Uncompressed turns Snappy compression off. Default false (Snappy).
	Uncompressed bool
}

// ParquetWriter writes rows of a schema to a Parquet file, one row group
// per RowGroupRows rows. Column types map to Parquet logical types
// (timestamps with any zone are stored adjusted to UTC and read back with
// zone "UTC"). It is not safe for concurrent use. Close must be called to
// write the footer.
type ParquetWriter struct {
	s    *row.Schema
	fw   *pqarrow.FileWriter
	b    *array.RecordBuilder
	n    int
	max  int
	rows int64
	err  error
}

// NewParquetWriter starts a Parquet file on w for rows of schema s.
func NewParquetWriter(w io.Writer, s *row.Schema, opts *ParquetWriterOptions) (*ParquetWriter, error) {
	var o ParquetWriterOptions
	if opts != nil {
		o = *opts
	}
	if o.RowGroupRows < 0 {
		return nil, fmt.Errorf("coldstore: ParquetWriterOptions.RowGroupRows is %d, want >= 0", o.RowGroupRows)
	}
	if o.RowGroupRows == 0 {
		o.RowGroupRows = 128 << 10
	}
	codec := compress.Codecs.Snappy
	if o.Uncompressed {
		codec = compress.Codecs.Uncompressed
	}
	props := parquet.NewWriterProperties(parquet.WithCompression(codec), parquet.WithMaxRowGroupLength(int64(o.RowGroupRows)))
	// hide w's Close (if any): the caller owns w
	fw, err := pqarrow.NewFileWriter(s.Arrow(), struct{ io.Writer }{w}, props, pqarrow.DefaultWriterProps())
	if err != nil {
		return nil, fmt.Errorf("coldstore: start Parquet file: %w", err)
	}
	return &ParquetWriter{s: s, fw: fw, b: array.NewRecordBuilder(memory.DefaultAllocator, s.Arrow()), max: o.RowGroupRows}, nil
}

// Write appends one row. A row that does not fit the schema is an error
// naming the column and the row's number.
func (w *ParquetWriter) Write(r row.Row) error {
	if w.err != nil {
		return w.err
	}
	if err := w.s.AppendToBuilder(w.b, r); err != nil {
		// AppendToBuilder may have appended some columns of the row:
		// the builder is inconsistent, so the writer is done.
		w.err = fmt.Errorf("coldstore: Parquet row %d: %w", w.rows, err)
		return w.err
	}
	w.rows++
	w.n++
	if w.n >= w.max {
		return w.flush()
	}
	return nil
}

func (w *ParquetWriter) flush() error {
	if w.n == 0 {
		return nil
	}
	rec := w.b.NewRecord()
	defer rec.Release()
	w.n = 0
	if err := w.fw.Write(rec); err != nil {
		w.err = fmt.Errorf("coldstore: write Parquet row group: %w", err)
		return w.err
	}
	return nil
}

// Rows returns the number of rows written so far.
func (w *ParquetWriter) Rows() int64 { return w.rows }

// Close writes the last row group and the footer. It does not close the
// underlying writer.
func (w *ParquetWriter) Close() error {
	if w.b == nil {
		return w.err
	}
	defer func() { w.b.Release(); w.b = nil }()
	ferr := w.err
	if ferr == nil {
		ferr = w.flush()
	}
	if err := w.fw.Close(); err != nil && ferr == nil {
		ferr = fmt.Errorf("coldstore: finish Parquet file: %w", err)
	}
	return ferr
}

// WriteParquet writes rows to a new Parquet file at path, atomically: the
// rows go to a temporary file in the same directory that is renamed to path
// once complete, so a reader never sees half a file. opts may be nil.
func WriteParquet(ctx context.Context, path string, s *row.Schema, rows []row.Row, opts *ParquetWriterOptions) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+strings.TrimSuffix(base, ".parquet")+"-*.tmp")
	if err != nil {
		return fmt.Errorf("coldstore: write %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(f.Name())
		}
	}()
	w, err := NewParquetWriter(f, s, opts)
	if err != nil {
		return err
	}
	for i, r := range rows {
		if i%4096 == 0 {
			if err := ctx.Err(); err != nil {
				_ = w.Close()
				return err
			}
		}
		if err := w.Write(r); err != nil {
			_ = w.Close()
			return fmt.Errorf("coldstore: write %s: %w", path, err)
		}
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("coldstore: write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("coldstore: write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("coldstore: write %s: %w", path, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("coldstore: write %s: %w", path, err)
	}
	return nil
}

// ignoreArrowSchema hides the Arrow schema that Arrow writers embed in the
// footer (key "ARROW:schema") from pqarrow, so that column types come from
// the Parquet schema alone. Arrow Go v17 decodes that blob without bounds
// checks: a damaged copy makes it allocate without limit and the process
// dies of out-of-memory, which no recover can catch. What is lost is only
// what Parquet cannot say itself, e.g. a timestamp zone other than UTC
// (Parquet knows "adjusted to UTC" or not).
func ignoreArrowSchema(rdr *file.Reader) {
	for _, kv := range rdr.MetaData().KeyValueMetadata() {
		if kv != nil && kv.Key == "ARROW:schema" {
			kv.Key = "hotcold.ignored:ARROW:schema"
		}
	}
}

// Limits of the memory Arrow may allocate while decoding one file: a
// damaged page header can claim billions of values, and Arrow believes it.
// Beyond the limits the allocator panics, which produceFile recovers into
// an error naming the file and row group.
const (
	maxParquetAlloc = 256 << 20 // one buffer
	maxParquetHeld  = 1 << 30   // all live buffers of one file
)

// boundedAllocator is an Arrow allocator with the limits above.
type boundedAllocator struct {
	mem  memory.Allocator
	held atomic.Int64
}

func newBoundedAllocator() *boundedAllocator {
	return &boundedAllocator{mem: memory.NewGoAllocator()}
}

func (a *boundedAllocator) check(size, grow int) {
	if size > maxParquetAlloc || a.held.Add(int64(grow)) > maxParquetHeld {
		panic(fmt.Sprintf("decoding needs a %d-byte buffer (%d bytes held): more than hotcold allows for one file (%d, %d)", size, a.held.Load(), maxParquetAlloc, maxParquetHeld))
	}
}

func (a *boundedAllocator) Allocate(size int) []byte {
	a.check(size, size)
	return a.mem.Allocate(size)
}

func (a *boundedAllocator) Reallocate(size int, b []byte) []byte {
	a.check(size, size-len(b))
	return a.mem.Reallocate(size, b)
}

func (a *boundedAllocator) Free(b []byte) {
	a.held.Add(-int64(len(b)))
	a.mem.Free(b)
}

func inputErr(pos, format string, args ...any) *InputError {
	return &InputError{Position: pos, Err: fmt.Errorf(format, args...)}
}
