namespace PagedAttention.Text.Tokenization;

/// <summary>Growable int list reused per thread so the encode hot path allocates only the final array.</summary>
internal sealed class IdBuffer
{
    private int[] _items = new int[256];

    public int Count { get; private set; }

    public ReadOnlySpan<int> Span => _items.AsSpan(0, Count);

    public void Clear() => Count = 0;

    public void Add(int id)
    {
        if (Count == _items.Length) Array.Resize(ref _items, _items.Length * 2);
        _items[Count++] = id;
    }

    public void AddRange(ReadOnlySpan<int> ids)
    {
        if (Count + ids.Length > _items.Length) Array.Resize(ref _items, Math.Max(_items.Length * 2, Count + ids.Length));
        ids.CopyTo(_items.AsSpan(Count));
        Count += ids.Length;
    }

    public void Insert(int index, ReadOnlySpan<int> ids)
    {
        if (Count + ids.Length > _items.Length) Array.Resize(ref _items, Math.Max(_items.Length * 2, Count + ids.Length));
        _items.AsSpan(index, Count - index).CopyTo(_items.AsSpan(index + ids.Length));
        ids.CopyTo(_items.AsSpan(index));
        Count += ids.Length;
    }
}
