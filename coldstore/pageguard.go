package coldstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"

	"github.com/apache/arrow/go/v17/parquet/compress"
	"github.com/apache/arrow/go/v17/parquet/file"
	"github.com/apache/arrow/go/v17/parquet/metadata"
	"github.com/apache/thrift/lib/go/thrift"
)

// Arrow Go trusts the sizes in Parquet page headers: a damaged dictionary
// page header claiming two billion values makes it allocate tens of
// gigabytes with make (outside any allocator), and the process dies of
// out-of-memory. checkPages reads every page header of a row group first
// (a few hundred bytes per page, no decompression) and rejects sizes that
// do not fit the chunk or the limits of boundedAllocator.

// pageHeader holds the fields of a Parquet PageHeader that checkPages
// validates (parquet.thrift: 1 type, 2 uncompressed_page_size,
// 3 compressed_page_size, 5 data_page_header, 7 dictionary_page_header,
// 8 data_page_header_v2; num_values is field 1 of each page header kind).
type pageHeader struct {
	typ          int32
	uncompressed int32
	compressed   int32
	numValues    int32
	hasValues    bool
	// data pages: value encoding, v1 definition level encoding, v2 level
	// byte lengths and whether the v2 values are compressed
	encoding   int32
	defEnc     int32
	v2DefLen   int32
	v2RepLen   int32
	v2Plain    bool // is_compressed = false
	hasV2Sizes bool
}

// Parquet encodings that matter here.
const (
	encPlainDictionary = 2
	encRLE             = 3
	encBitPacked       = 4
	encRLEDictionary   = 8
)

const (
	pageData       = 0
	pageIndex      = 1
	pageDictionary = 2
	pageDataV2     = 3
)

// maxPageHeader bounds the size of one page header (statistics included).
const maxPageHeader = 16 << 20

var errShortHeader = errors.New("page header runs past the column chunk")

// parsePageHeader parses a thrift compact PageHeader at the start of b and
// returns it with its encoded length. It never panics.
func parsePageHeader(b []byte) (h pageHeader, n int, err error) {
	mem := &thrift.TMemoryBuffer{Buffer: bytes.NewBuffer(b)}
	p := thrift.NewTCompactProtocolConf(mem, &thrift.TConfiguration{MaxMessageSize: maxPageHeader})
	ctx := context.Background()
	seen := 0
	if _, err := p.ReadStructBegin(ctx); err != nil {
		return h, 0, err
	}
	for {
		_, typ, id, err := p.ReadFieldBegin(ctx)
		if err != nil {
			return h, 0, err
		}
		if typ == thrift.STOP {
			break
		}
		switch {
		case id == 1 && typ == thrift.I32:
			h.typ, err = p.ReadI32(ctx)
			seen |= 1
		case id == 2 && typ == thrift.I32:
			h.uncompressed, err = p.ReadI32(ctx)
			seen |= 2
		case id == 3 && typ == thrift.I32:
			h.compressed, err = p.ReadI32(ctx)
			seen |= 4
		case (id == 5 || id == 7 || id == 8) && typ == thrift.STRUCT:
			err = readSubHeader(ctx, p, id, &h)
		default:
			err = thrift.SkipDefaultDepth(ctx, p, typ)
		}
		if err != nil {
			return h, 0, err
		}
		if err := p.ReadFieldEnd(ctx); err != nil {
			return h, 0, err
		}
	}
	if err := p.ReadStructEnd(ctx); err != nil {
		return h, 0, err
	}
	if seen != 7 {
		return h, 0, errors.New("page header lacks its type or sizes")
	}
	return h, len(b) - mem.Len(), nil
}

// readSubHeader reads a data_page_header (5), dictionary_page_header (7)
// or data_page_header_v2 (8) into h.
func readSubHeader(ctx context.Context, p thrift.TProtocol, kind int16, h *pageHeader) error {
	if _, err := p.ReadStructBegin(ctx); err != nil {
		return err
	}
	for {
		_, typ, id, err := p.ReadFieldBegin(ctx)
		if err != nil {
			return err
		}
		if typ == thrift.STOP {
			break
		}
		var v int32
		switch {
		case id == 1 && typ == thrift.I32:
			v, err = p.ReadI32(ctx)
			h.numValues, h.hasValues = v, true
		case kind == 5 && id == 2 && typ == thrift.I32, kind == 8 && id == 4 && typ == thrift.I32:
			h.encoding, err = p.ReadI32(ctx)
		case kind == 5 && id == 3 && typ == thrift.I32:
			h.defEnc, err = p.ReadI32(ctx)
		case kind == 8 && id == 5 && typ == thrift.I32:
			h.v2DefLen, err = p.ReadI32(ctx)
			h.hasV2Sizes = true
		case kind == 8 && id == 6 && typ == thrift.I32:
			h.v2RepLen, err = p.ReadI32(ctx)
		case kind == 8 && id == 7 && (typ == thrift.BOOL):
			var b bool
			b, err = p.ReadBool(ctx)
			h.v2Plain = !b
		default:
			err = thrift.SkipDefaultDepth(ctx, p, typ)
		}
		if err != nil {
			return err
		}
		if err := p.ReadFieldEnd(ctx); err != nil {
			return err
		}
	}
	return p.ReadStructEnd(ctx)
}

// readPageHeader reads the page header at off, within a chunk that ends
// at end, growing its read until the header fits.
func readPageHeader(r io.ReaderAt, off, end int64) (pageHeader, int, error) {
	size := int64(256)
	for {
		size = min(size, end-off)
		buf := make([]byte, size)
		k, err := r.ReadAt(buf, off)
		if err != nil && !(errors.Is(err, io.EOF) && int64(k) == size) {
			return pageHeader{}, 0, err
		}
		h, n, perr := parsePageHeader(buf)
		if perr == nil {
			return h, n, nil
		}
		if size >= end-off || size >= maxPageHeader {
			if size >= end-off {
				return pageHeader{}, 0, fmt.Errorf("%w: %v", errShortHeader, perr)
			}
			return pageHeader{}, 0, fmt.Errorf("unreadable page header: %w", perr)
		}
		size *= 4
	}
}

// checkPage validates one header against its chunk.
func checkPage(h pageHeader, remaining int64) error {
	switch {
	case h.typ < pageData || h.typ > pageDataV2:
		return fmt.Errorf("unknown page type %d", h.typ)
	case h.uncompressed < 0 || h.compressed < 0:
		return fmt.Errorf("negative page size (%d compressed, %d uncompressed)", h.compressed, h.uncompressed)
	case int64(h.compressed) > remaining:
		return fmt.Errorf("page of %d bytes runs past the column chunk (%d bytes left)", h.compressed, remaining)
	case h.uncompressed > maxParquetAlloc:
		return fmt.Errorf("page of %d uncompressed bytes is larger than hotcold allows (%d)", h.uncompressed, maxParquetAlloc)
	case h.hasValues && h.numValues < 0:
		return fmt.Errorf("negative value count %d", h.numValues)
	case h.typ == pageDictionary && (!h.hasValues || int64(h.numValues) > int64(h.uncompressed)/4+1 || int64(h.numValues) > maxParquetAlloc/24):
		return fmt.Errorf("dictionary page claims %d values in %d bytes", h.numValues, h.uncompressed)
	}
	return nil
}

// checkPages walks the page headers of every column chunk of row group rg.
func checkPages(r io.ReaderAt, size int64, rdr *file.Reader, rg, ncols int) error {
	var scratch pageScratch
	md := rdr.MetaData().RowGroup(rg)
	oldWriter := rdr.MetaData().WriterVersion().LessThan(metadata.Parquet816FixedVersion)
	for c := 0; c < ncols; c++ {
		cc, err := md.ColumnChunk(c)
		if err != nil {
			return fmt.Errorf("column %d: %w", c, err)
		}
		off := cc.DataPageOffset()
		if cc.HasDictionaryPage() && cc.DictionaryPageOffset() > 0 && cc.DictionaryPageOffset() < off {
			off = cc.DictionaryPageOffset()
		}
		end := off + cc.TotalCompressedSize()
		if oldWriter {
			// as Arrow does for PARQUET-816: parquet-mr up to 1.2.8 left
			// the dictionary page header out of total_compressed_size
			end += min(100, size-end)
		}
		var values int64
		dictN := int64(-1)
		maxDef := rdr.MetaData().Schema.Column(c).MaxDefinitionLevel()
		for off < end && values < cc.NumValues() {
			h, n, err := readPageHeader(r, off, end)
			if err == nil {
				err = checkPage(h, end-off-int64(n))
			}
			if err == nil && h.typ == pageDictionary {
				dictN = int64(h.numValues)
			}
			if err == nil && (h.typ == pageData || h.typ == pageDataV2) && (h.encoding == encPlainDictionary || h.encoding == encRLEDictionary) {
				err = checkDictIndices(r, off+int64(n), h, cc.Compression(), maxDef, dictN, &scratch)
			}
			if err != nil {
				return fmt.Errorf("column %d: page at offset %d: %w", c, off, err)
			}
			off += int64(n) + int64(h.compressed)
			if h.typ == pageData || h.typ == pageDataV2 {
				values += int64(h.numValues)
			}
		}
	}
	return nil
}

type pageScratch struct{ raw, plain []byte }

// checkDictIndices reads the bit width of a dictionary-encoded data page's
// indices (the first byte after the levels): Arrow allocates as many
// dictionary slots as the largest index it meets, so a width beyond what
// the dictionary needs is damage. Valid writers use the smallest width
// that holds dictN-1.
func checkDictIndices(r io.ReaderAt, off int64, h pageHeader, codec compress.Compression, maxDef int16, dictN int64, sc *pageScratch) error {
	if dictN < 0 {
		return errors.New("dictionary-encoded page without a dictionary page before it")
	}
	if cap(sc.raw) < int(h.compressed) {
		sc.raw = make([]byte, h.compressed)
	}
	raw := sc.raw[:h.compressed]
	if _, err := r.ReadAt(raw, off); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	var vals []byte
	if h.typ == pageDataV2 {
		if !h.hasV2Sizes || h.v2DefLen < 0 || h.v2RepLen < 0 || int64(h.v2DefLen)+int64(h.v2RepLen) > int64(len(raw)) {
			return errors.New("bad level lengths in a v2 page header")
		}
		vals = raw[h.v2DefLen+h.v2RepLen:]
		if !h.v2Plain && codec != compress.Codecs.Uncompressed {
			var err error
			if vals, err = decompress(codec, vals, int(h.uncompressed)-int(h.v2DefLen+h.v2RepLen), sc); err != nil {
				return err
			}
		}
	} else {
		plain := raw
		if codec != compress.Codecs.Uncompressed {
			var err error
			if plain, err = decompress(codec, raw, int(h.uncompressed), sc); err != nil {
				return err
			}
		}
		vals = plain
		if maxDef > 0 { // skip the definition levels (flat schemas: no repetition levels)
			switch h.defEnc {
			case encRLE:
				if len(vals) < 4 {
					return errors.New("truncated definition levels")
				}
				n := int64(binary.LittleEndian.Uint32(vals))
				if n > int64(len(vals)-4) {
					return errors.New("definition levels run past the page")
				}
				vals = vals[4+n:]
			case encBitPacked:
				n := (int64(h.numValues)*int64(bits.Len16(uint16(maxDef))) + 7) / 8
				if n > int64(len(vals)) {
					return errors.New("definition levels run past the page")
				}
				vals = vals[n:]
			default:
				return fmt.Errorf("unknown definition level encoding %d", h.defEnc)
			}
		}
	}
	if len(vals) == 0 {
		return nil // no non-null values
	}
	width := int(vals[0])
	limit := 4*dictN + 1024
	if width > 32 || int64(1)<<width > limit {
		return fmt.Errorf("dictionary indices of %d bits for a dictionary of %d values", width, dictN)
	}
	return nil
}

func decompress(codec compress.Compression, src []byte, size int, sc *pageScratch) (out []byte, err error) {
	if size < 0 || size > maxParquetAlloc {
		return nil, fmt.Errorf("bad uncompressed size %d", size)
	}
	c, err := compress.GetCodec(codec)
	if err != nil {
		return nil, err
	}
	if cap(sc.plain) < size {
		sc.plain = make([]byte, size)
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("corrupt %s data: %v", codec, r)
		}
	}()
	out = c.Decode(sc.plain[:size], src)
	if len(out) > maxParquetAlloc {
		return nil, fmt.Errorf("page decompresses to %d bytes", len(out))
	}
	return out, nil
}
