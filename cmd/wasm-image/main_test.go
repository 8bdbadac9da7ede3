package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-containerregistry/pkg/v1/validate"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A small stand-in module: the header and some bytes (the builder only
// checks the header; Istio checks the same 4 magic bytes).
var fakeModule = append([]byte("\x00asm\x01\x00\x00\x00"), bytes.Repeat([]byte("vcap-sticky"), 1000)...)

// readBack opens the layout at dir and returns its one image and its index
// annotations, checking everything Istio's fetcher relies on for the compat
// variant, and returns plugin.wasm's bytes.
func readBack(t *testing.T, dir string) (v1.Image, map[string]string, []byte) {
	t.Helper()
	p, err := layout.FromPath(dir)
	require.NoError(t, err)
	idx, err := p.ImageIndex()
	require.NoError(t, err)
	im, err := idx.IndexManifest()
	require.NoError(t, err)
	require.Len(t, im.Manifests, 1, "one image in the layout")
	desc := im.Manifests[0]
	assert.Equal(t, types.OCIManifestSchema1, desc.MediaType)
	img, err := p.Image(desc.Digest)
	require.NoError(t, err)
	require.NoError(t, validate.Image(img), "digests, sizes and diff ids are consistent")

	m, err := img.Manifest()
	require.NoError(t, err)
	assert.Equal(t, types.OCIManifestSchema1, m.MediaType)
	assert.Equal(t, types.OCIConfigJSON, m.Config.MediaType)
	assert.Equal(t, "compat", m.Annotations[VariantAnnotation])
	require.Len(t, m.Layers, 1, "the compat variant has exactly one layer")
	assert.Equal(t, types.OCILayer, m.Layers[0].MediaType, "tar+gzip, the media type Istio's compat path requires")

	layers, err := img.Layers()
	require.NoError(t, err)
	rc, err := layers[len(layers)-1].Compressed() // what Istio reads: the last layer, compressed
	require.NoError(t, err)
	defer rc.Close()
	gz, err := gzip.NewReader(rc)
	require.NoError(t, err)
	tr := tar.NewReader(gz)
	var names []string
	var wasm []byte
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		names = append(names, h.Name)
		if h.Name == PluginFile {
			wasm, err = io.ReadAll(tr)
			require.NoError(t, err)
		}
	}
	assert.Equal(t, []string{PluginFile}, names, "the layer holds plugin.wasm only")
	return img, desc.Annotations, wasm
}

func TestImageRoundTrip(t *testing.T) {
	dir := t.TempDir()
	wasmPath := filepath.Join(dir, "m.wasm")
	require.NoError(t, os.WriteFile(wasmPath, fakeModule, 0o644))
	layoutDir, archive := filepath.Join(dir, "image"), filepath.Join(dir, "out", "image.oci.tar")
	var out bytes.Buffer
	require.NoError(t, run(&out, wasmPath, layoutDir, archive, "v9"))

	img, anns, wasm := readBack(t, layoutDir)
	assert.Equal(t, fakeModule, wasm, "plugin.wasm is the module, byte for byte")
	assert.Equal(t, "v9", anns[RefNameAnnotation])

	digest, err := img.Digest()
	require.NoError(t, err)
	sum := sha256.Sum256(fakeModule)
	assert.Contains(t, out.String(), "sha256 "+hex.EncodeToString(sum[:]), "prints the module's sha256:\n%s", out.String())
	assert.Contains(t, out.String(), "digest "+digest.String(), "prints the image digest:\n%s", out.String())
	assert.Contains(t, out.String(), "spec.sha256: "+digest.Hex+" for url: oci://", "says which digest goes with oci://")
	assert.Contains(t, out.String(), "for url: https://", "says which digest goes with https://")

	// The archive is the same layout: unpacked, it reads back to the same image.
	unpacked := filepath.Join(dir, "unpacked")
	untar(t, archive, unpacked)
	img2, _, wasm2 := readBack(t, unpacked)
	d2, err := img2.Digest()
	require.NoError(t, err)
	assert.Equal(t, digest, d2)
	assert.Equal(t, fakeModule, wasm2)

	// Reproducible: building again (elsewhere, another tag) gives the same digest.
	again, err := Image(fakeModule)
	require.NoError(t, err)
	d3, err := again.Digest()
	require.NoError(t, err)
	assert.Equal(t, digest, d3, "same module, same image digest")
}

func TestImageRejectsNonWasm(t *testing.T) {
	_, err := Image([]byte("#!/bin/sh\necho not wasm\n"))
	require.Error(t, err)
	dir := t.TempDir()
	err = run(io.Discard, filepath.Join(dir, "missing.wasm"), filepath.Join(dir, "image"), "", "dev")
	require.ErrorContains(t, err, "make build")
}

// TestBuiltImage checks the image `make image` wrote from `make build`'s
// module: VCAP_STICKY_IMAGE is the layout directory, VCAP_STICKY_WASM the
// module (make image sets both; without them the test is skipped).
func TestBuiltImage(t *testing.T) {
	dir, wasmPath := os.Getenv("VCAP_STICKY_IMAGE"), os.Getenv("VCAP_STICKY_WASM")
	if dir == "" || wasmPath == "" {
		t.Skip("VCAP_STICKY_IMAGE and VCAP_STICKY_WASM not set: run `make image`")
	}
	module, err := os.ReadFile(wasmPath)
	require.NoError(t, err)
	img, _, wasm := readBack(t, dir)
	require.True(t, bytes.Equal(module, wasm), "plugin.wasm (%d bytes) differs from %s (%d bytes)", len(wasm), wasmPath, len(module))
	rebuilt, err := Image(module)
	require.NoError(t, err)
	want, err := rebuilt.Digest()
	require.NoError(t, err)
	got, err := img.Digest()
	require.NoError(t, err)
	assert.Equal(t, want, got, "the image on disk is the one this module builds")
	if archive := os.Getenv("VCAP_STICKY_IMAGE_ARCHIVE"); archive != "" {
		unpacked := t.TempDir()
		untar(t, archive, unpacked)
		img2, _, wasm2 := readBack(t, unpacked)
		d2, err := img2.Digest()
		require.NoError(t, err)
		assert.Equal(t, got, d2, "the archive holds the same image")
		assert.True(t, bytes.Equal(module, wasm2))
	}
}

func untar(t *testing.T, archive, dir string) {
	t.Helper()
	f, err := os.Open(archive)
	require.NoError(t, err)
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return
		}
		require.NoError(t, err)
		require.False(t, strings.Contains(h.Name, ".."), "entry %q", h.Name)
		p := filepath.Join(dir, filepath.FromSlash(h.Name))
		if h.Typeflag == tar.TypeDir {
			require.NoError(t, os.MkdirAll(p, 0o755))
			continue
		}
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		data, err := io.ReadAll(tr)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(p, data, 0o644))
	}
}
