// Command wasm-image packages the filter module as an OCI image that Istio's
// WasmPlugin can pull (url: oci://...), without Docker: it writes an OCI image
// layout directory and the same layout as a tar archive (oci-archive).
//
// The image is the "compat" variant of the Wasm image specification, the first
// format Istio's image fetcher tries: an OCI image manifest with exactly one
// application/vnd.oci.image.layer.v1.tar+gzip layer holding plugin.wasm, and
// the manifest annotation module.wasm.image/variant=compat. Any registry takes
// it (no custom media types).
//
// The build is reproducible: the same module gives the same image digest
// (no timestamps, fixed file mode, fixed gzip settings).
//
// Usage:
//
//	wasm-image -wasm build/vcap-sticky.wasm -layout build/image -archive build/vcap-sticky.oci.tar -tag dev
package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

const (
	// PluginFile is the file name Istio's fetcher looks for in the layer.
	PluginFile = "plugin.wasm"
	// VariantAnnotation marks a compat image with an OCI layer media type.
	VariantAnnotation = "module.wasm.image/variant"
	// RefNameAnnotation names the image in the layout's index (the "tag"
	// crane, oras and skopeo use to pick it).
	RefNameAnnotation = "org.opencontainers.image.ref.name"
)

func main() {
	wasmPath := flag.String("wasm", "build/vcap-sticky.wasm", "the filter module")
	layoutDir := flag.String("layout", "build/image", "OCI image layout directory to write (replaced)")
	archive := flag.String("archive", "build/vcap-sticky.oci.tar", "tar archive of the layout to write (oci-archive); empty: none")
	tag := flag.String("tag", "dev", "the image's ref name in the layout")
	flag.Parse()
	if err := run(os.Stdout, *wasmPath, *layoutDir, *archive, *tag); err != nil {
		fmt.Fprintln(os.Stderr, "wasm-image:", err)
		os.Exit(1)
	}
}

func run(out io.Writer, wasmPath, layoutDir, archive, tag string) error {
	wasm, err := os.ReadFile(wasmPath)
	if err != nil {
		return fmt.Errorf("reading the module (run `make build`): %w", err)
	}
	img, err := Image(wasm)
	if err != nil {
		return err
	}
	if err := WriteLayout(layoutDir, img, tag); err != nil {
		return err
	}
	if archive != "" {
		if err := WriteArchive(archive, layoutDir); err != nil {
			return err
		}
	}
	digest, err := img.Digest()
	if err != nil {
		return err
	}
	sum := sha256.Sum256(wasm)
	fmt.Fprintf(out, "module  %s\n", wasmPath)
	fmt.Fprintf(out, "  sha256 %s\n", hex.EncodeToString(sum[:]))
	fmt.Fprintf(out, "    -> WasmPlugin spec.sha256 for url: https://... or file://... (the module's own bytes)\n")
	fmt.Fprintf(out, "image   %s (tag %s)", layoutDir, tag)
	if archive != "" {
		fmt.Fprintf(out, ", archive %s", archive)
	}
	fmt.Fprintf(out, "\n  digest %s\n", digest)
	fmt.Fprintf(out, "    -> WasmPlugin spec.sha256: %s for url: oci://REGISTRY/REPO:%s\n", digest.Hex, tag)
	fmt.Fprintf(out, "       (istiod compares the image manifest digest), or pin url: oci://REGISTRY/REPO@%s\n", digest)
	fmt.Fprintf(out, "  push:  crane push %s REGISTRY/REPO:%s\n", layoutDir, tag)
	fmt.Fprintf(out, "     or: oras cp --from-oci-layout %s:%s REGISTRY/REPO:%s\n", layoutDir, tag, tag)
	return nil
}

// Image builds the compat-variant image holding wasm as plugin.wasm.
func Image(wasm []byte) (v1.Image, error) {
	if len(wasm) < 8 || !bytes.Equal(wasm[:4], []byte("\x00asm")) {
		return nil, errors.New("not a wasm module (no \\0asm header)")
	}
	layerBytes, err := tarGzip(PluginFile, wasm)
	if err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerBytes)), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, err
	}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err = mutate.Append(img, mutate.Addendum{
		Layer:     layer,
		MediaType: types.OCILayer,
		History:   v1.History{CreatedBy: "vcap-sticky wasm-image: " + PluginFile},
	})
	if err != nil {
		return nil, err
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cfg = cfg.DeepCopy()
	cfg.Architecture, cfg.OS = "wasm", "wasip1"
	if img, err = mutate.ConfigFile(img, cfg); err != nil {
		return nil, err
	}
	annotated, ok := mutate.Annotations(img, map[string]string{VariantAnnotation: "compat"}).(v1.Image)
	if !ok {
		return nil, errors.New("annotating the manifest did not give an image")
	}
	return annotated, nil
}

// tarGzip is a tar+gzip stream holding one file, with no timestamps.
func tarGzip(name string, data []byte) ([]byte, error) {
	var buf bytes.Buffer
	gz, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	tw := tar.NewWriter(gz)
	hdr := &tar.Header{
		Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(len(data)),
		ModTime: time.Unix(0, 0), Format: tar.FormatPAX,
	}
	if err := tw.WriteHeader(hdr); err != nil {
		return nil, err
	}
	if _, err := tw.Write(data); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := gz.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// WriteLayout replaces dir with an OCI image layout holding img as tag.
func WriteLayout(dir string, img v1.Image, tag string) error {
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return err
	}
	return p.AppendImage(img, layout.WithAnnotations(map[string]string{RefNameAnnotation: tag}))
}

// WriteArchive writes the layout directory dir as a tar archive (entries
// sorted, no timestamps), the "oci-archive" form skopeo and oras read.
func WriteArchive(path, dir string) error {
	var files []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != dir {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return err
	}
	sort.Strings(files)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(f)
	for _, p := range files {
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		fi, err := os.Stat(p)
		if err != nil {
			return err
		}
		hdr := &tar.Header{Name: filepath.ToSlash(rel), ModTime: time.Unix(0, 0), Format: tar.FormatPAX}
		if fi.IsDir() {
			hdr.Typeflag, hdr.Name, hdr.Mode = tar.TypeDir, hdr.Name+"/", 0o755
			if err := tw.WriteHeader(hdr); err != nil {
				return err
			}
			continue
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		hdr.Typeflag, hdr.Mode, hdr.Size = tar.TypeReg, 0o644, int64(len(data))
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if _, err := tw.Write(data); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}
